//! Property tests for recipient-number normalisation and masking (`khabar::number`).

use khabar::number::{mask, normalize, normalize_any};
use proptest::prelude::*;

/// A Kazakhstan mobile number: country code 7, a 7xx operator code outside the landline
/// ranges 71x/72x, and seven subscriber digits.
fn kz_mobile() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec![0u8, 4, 5, 6, 7, 8, 9]),
        0u8..10,
        prop::collection::vec(0u8..10, 7),
    )
        .prop_map(|(second, third, rest)| {
            let mut s = format!("77{second}{third}");
            s.extend(rest.iter().map(|d| char::from(b'0' + d)));
            s
        })
}

/// Separators people type between digit groups.
fn separator() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["", " ", "-", ".", "\u{a0}"])
}

proptest! {
    #[test]
    fn normalize_never_panics_on_arbitrary_strings(input in any::<String>()) {
        let _ = normalize(&input);
        let _ = normalize_any(&input);
        let _ = mask(&input);
    }

    #[test]
    fn normalize_never_panics_on_digit_heavy_strings(input in "[+0-9 ()-]{0,24}") {
        let _ = normalize(&input);
        let _ = normalize_any(&input);
        let _ = mask(&input);
    }

    #[test]
    fn all_input_forms_of_one_number_normalise_equal(e164 in kz_mobile(), sep in separator()) {
        let national = &e164[1..];
        let forms = [
            format!("+{e164}"),
            e164.clone(),
            format!("8{national}"),
            format!("+7{sep}({}){sep}{}{sep}{}{sep}{}", &national[..3], &national[3..6], &national[6..8], &national[8..]),
            format!("8{sep}{}{sep}{}", &national[..3], &national[3..]),
        ];
        for form in &forms {
            let msisdn = normalize(form).map_err(|e| TestCaseError::fail(format!("{form:?}: {e}")))?;
            prop_assert_eq!(msisdn.as_str(), e164.as_str());
            let any = normalize_any(form).map_err(|e| TestCaseError::fail(format!("{form:?}: {e}")))?;
            prop_assert_eq!(any, msisdn);
        }
    }

    #[test]
    fn mask_never_reveals_the_middle_digits(e164 in kz_mobile(), sep in separator()) {
        let national = &e164[1..];
        for form in [e164.clone(), format!("8{sep}{national}"), format!("+{e164}")] {
            let masked = mask(&form);
            // The only digits shown are the first four and the last four: digits 5-7 never.
            let shown: String = masked.chars().filter(char::is_ascii_digit).collect();
            prop_assert_eq!(&shown, &format!("{}{}", &e164[..4], &e164[7..]));
        }
    }

    #[test]
    fn mask_of_any_string_shows_at_most_eight_digits(input in any::<String>()) {
        let masked = mask(&input);
        prop_assert!(masked.chars().filter(char::is_ascii_digit).count() <= 8);
    }
}
