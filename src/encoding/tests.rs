use super::*;
use rusmpp::tlvs::TlvValue;
use rusmpp::types::COctetString;
use rusmpp::values::RegisteredDelivery;
use std::str::FromStr;

const SOCIAL_WALLET: &str = "Сәлеметсіз бе! Әлеуметтік әмиян: қолдау шарасы тағайындалды";

/// A realistic long Kazakh notification (seed 000) of 150 characters: 3 UCS-2 parts.
fn long_kazakh() -> String {
    let text = "Құрметті азамат! «Әлеуметтік әмиян» арқылы Сізге мемлекеттік қолдау шарасы \
                тағайындалды. Толығырақ ақпаратты egov.kz порталынан біле аласыз. Рақмет!";
    let n = text.chars().count();
    assert!(
        (135..=201).contains(&n),
        "fixture must need 3 parts, has {n} chars"
    );
    text.to_owned()
}

fn base() -> SubmitSm {
    SubmitSm::builder()
        .destination_addr(COctetString::from_str("77011234567").unwrap())
        .source_addr(COctetString::from_str("eGov").unwrap())
        .registered_delivery(RegisteredDelivery::request_all())
        .build()
}

fn udhi(sm: &SubmitSm) -> bool {
    u8::from(sm.esm_class) & 0x40 != 0
}

fn cfg(concatenation: ConcatMode) -> EncodingConfig {
    EncodingConfig {
        concatenation,
        ..EncodingConfig::default()
    }
}

#[test]
fn latin_text_is_gsm_in_one_part() {
    let text = "Your eGov code is 482913. Do not share it.";
    let plan = plan(text, &EncodingConfig::default()).unwrap();
    assert_eq!(plan.coding, Coding::Gsm7);
    assert_eq!(plan.parts, 1);
    assert_eq!(plan.units, text.len());
    assert_eq!(plan.part_capacity, 160);
}

#[test]
fn kazakh_social_wallet_notice_is_ucs2_in_one_part() {
    let plan = plan(SOCIAL_WALLET, &EncodingConfig::default()).unwrap();
    assert_eq!(plan.coding, Coding::Ucs2);
    assert_eq!(plan.units, SOCIAL_WALLET.chars().count());
    assert_eq!(plan.parts, 1);
    assert_eq!(plan.part_capacity, 70);
}

#[test]
fn every_kazakh_specific_letter_forces_ucs2() {
    for letter in "әғқңөұүһіӘҒҚҢӨҰҮҺІ".chars() {
        let text = format!("Salem {letter}");
        let plan = plan(&text, &EncodingConfig::default()).unwrap();
        assert_eq!(plan.coding, Coding::Ucs2, "letter {letter}");
    }
}

#[test]
fn long_kazakh_text_is_three_parts_with_one_reference_and_sequence() {
    let text = long_kazakh();
    let submits = build_submits(base(), &text, 0x1234, &EncodingConfig::default()).unwrap();
    assert_eq!(submits.len(), 3);
    let mut rebuilt = String::new();
    for (index, sm) in submits.iter().enumerate() {
        let bytes = sm.short_message().as_ref();
        // 8-bit reference UDH: UDHL 5, IEI 0, IEDL 3, reference (low byte), total, sequence.
        assert_eq!(&bytes[..6], &[0x05, 0x00, 0x03, 0x34, 3, index as u8 + 1]);
        let body = &bytes[6..];
        assert!(
            body.len() <= 134,
            "part {} has {} octets",
            index + 1,
            body.len()
        );
        assert!(udhi(sm));
        assert_eq!(u8::from(sm.data_coding), 0x08);
        rebuilt.push_str(&decode_short_message(0x08, bytes, true));
    }
    assert_eq!(rebuilt, text);
    let plan = plan(&text, &EncodingConfig::default()).unwrap();
    assert_eq!((plan.parts, plan.part_capacity), (3, 67));
}

#[test]
fn gsm_single_part_holds_160_and_161_needs_two() {
    let config = EncodingConfig::default();
    assert_eq!(plan(&"a".repeat(160), &config).unwrap().parts, 1);
    let two = plan(&"a".repeat(161), &config).unwrap();
    assert_eq!((two.parts, two.part_capacity), (2, 153));
    assert_eq!(plan(&"a".repeat(306), &config).unwrap().parts, 2);
    assert_eq!(plan(&"a".repeat(307), &config).unwrap().parts, 3);
}

#[test]
fn ucs2_single_part_holds_70_and_71_needs_two() {
    let config = EncodingConfig::default();
    assert_eq!(plan(&"ә".repeat(70), &config).unwrap().parts, 1);
    assert_eq!(plan(&"ә".repeat(71), &config).unwrap().parts, 2);
    assert_eq!(plan(&"ә".repeat(134), &config).unwrap().parts, 2);
    assert_eq!(plan(&"ә".repeat(135), &config).unwrap().parts, 3);
}

#[test]
fn extension_characters_count_double() {
    let config = EncodingConfig::default();
    let euros = plan(&"€".repeat(80), &config).unwrap();
    assert_eq!(
        (euros.coding, euros.units, euros.parts),
        (Coding::Gsm7, 160, 1)
    );
    assert_eq!(
        plan(&format!("{}a", "€".repeat(80)), &config)
            .unwrap()
            .parts,
        2
    );
    let braces = plan("{json}", &config).unwrap();
    assert_eq!(braces.units, 8);
}

#[test]
fn extension_character_is_never_split_between_parts() {
    // 152 plain septets then '€': its escape would be the 153rd septet of part 1.
    let text = format!("{}€ and more text after the euro sign", "a".repeat(152));
    let submits = build_submits(base(), &text, 7, &EncodingConfig::default()).unwrap();
    assert_eq!(submits.len(), 2);
    let first = &submits[0].short_message().as_ref()[6..];
    assert_ne!(first.last(), Some(&0x1B));
    let rebuilt: String = submits
        .iter()
        .map(|sm| decode_short_message(0x00, sm.short_message().as_ref(), true))
        .collect();
    assert_eq!(rebuilt, text);
}

#[test]
fn gsm_is_sent_unpacked_with_data_coding_zero() {
    let submits = build_submits(base(), "Hello @ eGov", 1, &EncodingConfig::default()).unwrap();
    assert_eq!(submits.len(), 1);
    let sm = &submits[0];
    assert_eq!(u8::from(sm.data_coding), 0x00);
    // Unpacked: one septet per octet; '@' is septet 0x00 in the GSM alphabet.
    assert_eq!(sm.short_message().as_ref(), b"Hello \x00 eGov");
    assert!(!udhi(sm));
}

#[test]
fn gsm_parts_leave_room_for_the_udh_septets() {
    let text = "x".repeat(400);
    let submits = build_submits(base(), &text, 9, &EncodingConfig::default()).unwrap();
    assert_eq!(submits.len(), 3);
    for sm in &submits {
        let septets = sm.short_message().as_ref().len() - 6;
        // 6 UDH octets (48 bits, 7 septets with fill) + the septets must fit 140 octets.
        assert!(
            48usize.div_ceil(7) * 7 + septets * 7 <= 140 * 8,
            "{septets} septets"
        );
    }
}

#[test]
fn too_many_parts_is_refused_naming_the_count() {
    let config = EncodingConfig::default();
    let text = "ә".repeat(67 * 6 + 1);
    let err = plan(&text, &config).unwrap_err();
    assert_eq!(
        err,
        EncodingError::TooManyParts {
            parts: 7,
            max: 6,
            coding: Coding::Ucs2,
            units: 403
        }
    );
    assert!(err.to_string().contains("7 SMS parts"), "{err}");
    assert!(build_submits(base(), &text, 1, &config).is_err());
    let one = EncodingConfig {
        max_parts: 1,
        ..config
    };
    assert!(plan(&"a".repeat(161), &one).is_err());
}

#[test]
fn texts_beyond_255_parts_are_too_many_parts_too() {
    let err = plan(&"a".repeat(40_000), &EncodingConfig::default()).unwrap_err();
    let parts = 40_000usize.div_ceil(153);
    assert_eq!(
        err,
        EncodingError::TooManyParts {
            parts,
            max: 6,
            coding: Coding::Gsm7,
            units: 40_000
        }
    );
    let err = plan(&"қ".repeat(20_000), &EncodingConfig::default()).unwrap_err();
    assert!(
        matches!(err, EncodingError::TooManyParts { units: 20_000, .. }),
        "{err}"
    );
}

#[test]
fn emoji_is_refused_with_its_position() {
    let err = plan("Сәлем 😀", &EncodingConfig::default()).unwrap_err();
    assert_eq!(
        err,
        EncodingError::UnsupportedCharacter {
            character: '😀',
            position: 6
        }
    );
    assert!(err.to_string().contains("U+1F600"), "{err}");
}

#[test]
fn empty_and_blank_text_are_refused() {
    for text in ["", "   ", "\n"] {
        assert_eq!(
            plan(text, &EncodingConfig::default()),
            Err(EncodingError::Empty)
        );
    }
}

#[test]
fn udh16_uses_sixteen_bit_reference_and_66_characters() {
    let text = long_kazakh();
    let config = cfg(ConcatMode::Udh16);
    let plan = plan(&text, &config).unwrap();
    assert_eq!(plan.part_capacity, 66);
    let submits = build_submits(base(), &text, 0xBEEF, &config).unwrap();
    assert_eq!(submits.len(), plan.parts);
    for (index, sm) in submits.iter().enumerate() {
        let bytes = sm.short_message().as_ref();
        let header = [
            0x06,
            0x08,
            0x04,
            0xBE,
            0xEF,
            plan.parts as u8,
            index as u8 + 1,
        ];
        assert_eq!(&bytes[..7], &header);
        assert!(bytes.len() - 7 <= 132);
    }
}

#[test]
fn sar_parts_carry_tlvs_and_no_udh() {
    let text = long_kazakh();
    let submits = build_submits(base(), &text, 0x0102, &cfg(ConcatMode::Sar)).unwrap();
    assert_eq!(submits.len(), 3);
    let mut rebuilt = String::new();
    for (index, sm) in submits.iter().enumerate() {
        assert!(!udhi(sm));
        let values: Vec<&TlvValue> = sm.tlvs().iter().filter_map(|t| t.value()).collect();
        assert!(values.contains(&&TlvValue::SarMsgRefNum(0x0102)));
        assert!(values.contains(&&TlvValue::SarTotalSegments(3)));
        assert!(values.contains(&&TlvValue::SarSegmentSeqnum(index as u8 + 1)));
        rebuilt.push_str(&decode_short_message(
            0x08,
            sm.short_message().as_ref(),
            false,
        ));
    }
    assert_eq!(rebuilt, text);
}

#[test]
fn single_part_sar_has_no_tlvs() {
    let submits = build_submits(base(), SOCIAL_WALLET, 5, &cfg(ConcatMode::Sar)).unwrap();
    assert_eq!(submits.len(), 1);
    assert!(submits[0].tlvs().is_empty());
}

#[test]
fn base_fields_are_kept_on_every_part() {
    let submits = build_submits(base(), &long_kazakh(), 3, &EncodingConfig::default()).unwrap();
    for sm in &submits {
        assert_eq!(sm.destination_addr.to_string(), "77011234567");
        assert_eq!(sm.source_addr.to_string(), "eGov");
        assert_eq!(sm.registered_delivery, RegisteredDelivery::request_all());
    }
}

#[test]
fn concat_mode_reads_from_config_names() {
    #[derive(Deserialize)]
    struct Wrapper {
        encoding: EncodingConfig,
    }
    let parsed: Wrapper =
        toml::from_str("[encoding]\nmax_parts = 4\nconcatenation = \"udh16\"").unwrap();
    assert_eq!(parsed.encoding.max_parts, 4);
    assert_eq!(parsed.encoding.concatenation, ConcatMode::Udh16);
    let sar: Wrapper = toml::from_str("[encoding]\nconcatenation = \"sar\"").unwrap();
    assert_eq!(sar.encoding.concatenation, ConcatMode::Sar);
    assert_eq!(sar.encoding.max_parts, 6);
}

#[test]
fn decode_gsm_reads_extension_table_and_udh() {
    let text = "Price: 5€ {ok} [x] ~ \\ | ^";
    let sm = &build_submits(base(), text, 1, &EncodingConfig::default()).unwrap()[0];
    assert_eq!(
        decode_short_message(0x00, sm.short_message().as_ref(), false),
        text
    );
    let mut with_udh = vec![0x05, 0x00, 0x03, 0x01, 0x01, 0x01];
    with_udh.extend_from_slice(b"Da");
    assert_eq!(decode_short_message(0x00, &with_udh, true), "Da");
}

#[test]
fn decode_other_codings() {
    assert_eq!(decode_short_message(0x03, b"caf\xe9", false), "café");
    // ISO-8859-5: Д = 0xB4, а = 0xD0.
    assert_eq!(decode_short_message(0x06, &[0xB4, 0xD0], false), "Да");
    // UCS-2 "Иә" and a UTF-16 surrogate pair from a modern phone.
    assert_eq!(
        decode_short_message(0x08, &[0x04, 0x18, 0x04, 0xD9], false),
        "Иә"
    );
    assert_eq!(
        decode_short_message(0x08, &[0xD8, 0x3D, 0xDE, 0x00], false),
        "😀"
    );
    // GSM DCS passed through: 0x18 = UCS-2 class 0, 0xF1 = GSM class 1.
    assert_eq!(
        decode_short_message(0x18, &[0x04, 0x14, 0x04, 0x30], false),
        "Да"
    );
    assert_eq!(decode_short_message(0xF1, b"Ok", false), "Ok");
}

#[test]
fn decode_survives_broken_input() {
    let replacement = char::REPLACEMENT_CHARACTER.to_string();
    assert_eq!(decode_short_message(0x08, &[0x04], false), replacement);
    assert_eq!(
        decode_short_message(0x08, &[0xD8, 0x3D], false),
        replacement
    );
    assert_eq!(decode_short_message(0x00, &[b'a', 0x1B], false), "a");
    assert_eq!(decode_short_message(0x00, &[0xFF], false), replacement);
    assert_eq!(decode_short_message(0x00, &[0x09, 1, 2], true), "");
    assert_eq!(decode_short_message(0x08, &[], true), "");
}
