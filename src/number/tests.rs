use super::*;

const KCELL: &str = "77011234567";

#[test]
fn the_three_documented_forms_normalise_to_the_same_digits() {
    for input in ["+77011234567", "77011234567", "87011234567"] {
        assert_eq!(normalize(input).unwrap().as_str(), KCELL, "input {input}");
    }
}

#[test]
fn separators_typed_by_people_are_tolerated() {
    for input in [
        "+7 (701) 123-45-67",
        "8 701 123 45 67",
        "8-701-123-45-67",
        " +7701.123.45.67 ",
        "+7\u{a0}701\u{a0}1234567",
        "(8701) 1234567",
    ] {
        assert_eq!(normalize(input).unwrap().as_str(), KCELL, "input {input:?}");
    }
}

#[test]
fn bare_national_ten_digits_get_the_country_code() {
    assert_eq!(normalize("701 123 45 67").unwrap().as_str(), KCELL);
}

#[test]
fn every_operator_prefix_of_the_design_is_a_mobile() {
    for code in [
        "700", "701", "702", "705", "707", "708", "747", "771", "775", "776", "777", "778",
    ] {
        let input = format!("8{code}1234567");
        let msisdn = normalize(&input).unwrap();
        assert_eq!(msisdn.as_str(), format!("7{code}1234567"));
        assert!(msisdn.is_kazakhstan_mobile());
    }
}

#[test]
fn absent_number_says_there_is_no_phone_number() {
    for input in ["", "   ", "()", " - "] {
        let err = normalize(input).unwrap_err();
        assert_eq!(err, NumberError::Missing, "input {input:?}");
        assert!(err.to_string().contains("no phone number"));
    }
}

#[test]
fn letters_are_refused_with_their_position() {
    assert_eq!(
        normalize("+7701abc4567").unwrap_err(),
        NumberError::InvalidCharacter {
            character: 'a',
            position: 5
        }
    );
    assert!(matches!(
        normalize("８７０１１２３４５６７"),
        Err(NumberError::InvalidCharacter { position: 0, .. })
    ));
}

#[test]
fn plus_in_the_middle_is_refused() {
    assert_eq!(
        normalize("7701+1234567").unwrap_err(),
        NumberError::MisplacedPlus { position: 4 }
    );
    assert!(matches!(
        normalize("++77011234567"),
        Err(NumberError::MisplacedPlus { position: 1 })
    ));
}

#[test]
fn truncated_and_overlong_numbers_report_their_length() {
    assert!(matches!(
        normalize("+7701123456"),
        Err(NumberError::WrongLength { digits: 10, .. })
    ));
    assert!(matches!(
        normalize("8701123456789"),
        Err(NumberError::WrongLength { digits: 13, .. })
    ));
    assert!(matches!(
        normalize("1234"),
        Err(NumberError::WrongLength { digits: 4, .. })
    ));
}

#[test]
fn russian_mobile_is_not_a_kazakhstan_mobile() {
    assert!(matches!(
        normalize("+79161234567"),
        Err(NumberError::NotKazakhstanMobile { .. })
    ));
    assert!(matches!(
        normalize("89161234567"),
        Err(NumberError::NotKazakhstanMobile { .. })
    ));
    assert!(matches!(
        normalize("+442071234567"),
        Err(NumberError::NotKazakhstanMobile { .. })
    ));
}

#[test]
fn almaty_and_astana_landlines_are_refused_as_landlines() {
    assert!(matches!(
        normalize("+7 727 123 45 67"),
        Err(NumberError::Landline { .. })
    ));
    assert!(matches!(
        normalize("8 7172 12 34 56"),
        Err(NumberError::Landline { .. })
    ));
}

#[test]
fn error_messages_never_show_the_whole_number() {
    let err = normalize("+79161234567").unwrap_err().to_string();
    assert!(!err.contains("79161234567"), "{err}");
    assert!(err.contains("+7916***4567"), "{err}");
}

#[test]
fn normalize_any_accepts_international_numbers_with_plus() {
    assert_eq!(
        normalize_any("+44 20 7123 4567").unwrap().as_str(),
        "442071234567"
    );
    assert_eq!(
        normalize_any("+7 916 123-45-67").unwrap().as_str(),
        "79161234567"
    );
    assert_eq!(
        normalize_any("+996 555 123 456").unwrap().as_str(),
        "996555123456"
    );
    assert!(
        !normalize_any("+996555123456")
            .unwrap()
            .is_kazakhstan_mobile()
    );
}

#[test]
fn normalize_any_still_applies_kazakhstan_rules_to_kazakhstan_numbers() {
    assert_eq!(normalize_any("87011234567").unwrap().as_str(), KCELL);
    assert!(matches!(
        normalize_any("+7701123456"),
        Err(NumberError::WrongLength { .. })
    ));
    assert!(matches!(
        normalize_any("+7916123456"),
        Err(NumberError::InternationalLength { digits: 10, .. })
    ));
    // Without '+' a foreign number is ambiguous and refused.
    assert!(matches!(
        normalize_any("442071234567"),
        Err(NumberError::WrongLength { .. })
    ));
}

#[test]
fn normalize_any_refuses_impossible_international_numbers() {
    assert!(matches!(
        normalize_any("+4420"),
        Err(NumberError::InternationalLength { digits: 4, .. })
    ));
    assert!(matches!(
        normalize_any("+1234567890123456"),
        Err(NumberError::InternationalLength { digits: 16, .. })
    ));
    assert!(matches!(
        normalize_any("+0123456789"),
        Err(NumberError::NoCountryCode { .. })
    ));
}

#[test]
fn mask_keeps_country_code_prefix_and_last_four() {
    assert_eq!(mask("77011234567"), "+7701***4567");
    assert_eq!(mask("+7 (701) 123-45-67"), "+7701***4567");
    assert_eq!(mask("87011234567"), "+7701***4567");
    assert_eq!(normalize(KCELL).unwrap().masked(), "+7701***4567");
}

#[test]
fn short_numbers_are_masked_entirely_but_show_their_length() {
    assert_eq!(mask("1414"), "****");
    assert_eq!(mask("7011234"), "*******");
    assert_eq!(mask(""), "(none)");
}

#[test]
fn debug_output_is_masked_but_display_is_full() {
    let msisdn = normalize(KCELL).unwrap();
    assert_eq!(format!("{msisdn}"), KCELL);
    let debug = format!("{msisdn:?}");
    assert!(!debug.contains(KCELL), "{debug}");
    assert!(debug.contains("+7701***4567"), "{debug}");
}

#[test]
fn serde_round_trips_and_rejects_garbage() {
    let msisdn = normalize(KCELL).unwrap();
    let json = serde_json::to_string(&msisdn).unwrap();
    assert_eq!(json, format!("\"{KCELL}\""));
    assert_eq!(serde_json::from_str::<Msisdn>(&json).unwrap(), msisdn);
    assert!(serde_json::from_str::<Msisdn>("\"+77011234567\"").is_err());
    assert!(serde_json::from_str::<Msisdn>("\"123\"").is_err());
}

#[test]
fn from_str_uses_normalize_any() {
    assert_eq!("8 701 123 45 67".parse::<Msisdn>().unwrap().as_str(), KCELL);
    assert_eq!(
        "+442071234567".parse::<Msisdn>().unwrap().as_str(),
        "442071234567"
    );
}
