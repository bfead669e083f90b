//! Property tests for SMS encoding and splitting (`khabar::encoding`).

use khabar::encoding::{
    Coding, ConcatMode, EncodingConfig, build_submits, decode_short_message, plan,
};
use proptest::prelude::*;
use rusmpp::pdus::SubmitSm;

/// Texts mixing GSM characters (including extension-table ones) and, sometimes, Kazakh letters.
fn sms_text() -> impl Strategy<Value = String> {
    let gsm = prop::sample::select(
        "abcXYZ 019.,!?@$_€{}[]~\\|^\nÄöñ"
            .chars()
            .collect::<Vec<_>>(),
    );
    let kazakh = prop::sample::select("әғқңөұүһіАБВабв «»№".chars().collect::<Vec<_>>());
    (
        prop::bool::ANY,
        prop::collection::vec((gsm, kazakh, 0u8..10), 1..700),
    )
        .prop_map(|(with_kazakh, picks)| {
            picks
                .into_iter()
                .map(|(g, k, roll)| if with_kazakh && roll == 0 { k } else { g })
                .collect()
        })
}

fn mode() -> impl Strategy<Value = ConcatMode> {
    prop::sample::select(vec![ConcatMode::Udh8, ConcatMode::Udh16, ConcatMode::Sar])
}

/// Octets of the concatenation UDH at the start of a part's short_message.
fn udh_len(mode: ConcatMode, parts: usize) -> usize {
    match (mode, parts) {
        (_, 1) | (ConcatMode::Sar, _) => 0,
        (ConcatMode::Udh8, _) => 6,
        (ConcatMode::Udh16, _) => 7,
    }
}

proptest! {
    #[test]
    fn decode_never_panics(data_coding in any::<u8>(), bytes in prop::collection::vec(any::<u8>(), 0..300), udh in any::<bool>()) {
        let _ = decode_short_message(data_coding, &bytes, udh);
    }

    #[test]
    fn plan_never_panics(text in any::<String>()) {
        let _ = plan(&text, &EncodingConfig { max_parts: 255, ..EncodingConfig::default() });
    }

    #[test]
    fn parts_decode_back_to_the_text_and_fit_one_sms_each(text in sms_text(), mode in mode(), reference in any::<u16>()) {
        let config = EncodingConfig { max_parts: 255, concatenation: mode };
        prop_assume!(!text.trim().is_empty());
        let plan = plan(&text, &config).unwrap();
        let submits = build_submits(SubmitSm::default(), &text, reference, &config).unwrap();
        prop_assert_eq!(submits.len(), plan.parts);
        let header = udh_len(mode, plan.parts);
        let mut rebuilt = String::new();
        for sm in &submits {
            let bytes = sm.short_message().as_ref();
            let body = bytes.len() - header;
            // Bits on the air interface: UDH octets, then the body (7-bit septets or octets).
            let air_bits = match plan.coding {
                Coding::Gsm7 => (header * 8).div_ceil(7) * 7 + body * 7,
                Coding::Ucs2 => header * 8 + body * 8,
            };
            let reserved = if mode == ConcatMode::Sar && plan.parts > 1 { 7 * 8 } else { 0 };
            prop_assert!(air_bits + reserved <= 140 * 8, "{air_bits} bits");
            rebuilt.push_str(&decode_short_message(plan.coding.data_coding(), bytes, header > 0));
        }
        prop_assert_eq!(rebuilt, text);
    }
}
