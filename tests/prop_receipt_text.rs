//! Property tests for delivery receipt parsing and operator id matching
//! (`khabar::receipts::text`).

use chrono::{NaiveDate, NaiveDateTime, Timelike};
use khabar::operator_id::{id_candidates, normalize_operator_id};
use khabar::receipts::text::{ReceiptStat, parse_receipt};
use proptest::prelude::*;

fn stat() -> impl Strategy<Value = ReceiptStat> {
    (0u8..10).prop_map(ReceiptStat::from_message_state)
}

fn datetime() -> impl Strategy<Value = NaiveDateTime> {
    (
        2000i32..2100,
        1u32..=12,
        1u32..=28,
        0u32..24,
        0u32..60,
        0u32..60,
    )
        .prop_map(|(y, mo, d, h, mi, s)| {
            NaiveDate::from_ymd_opt(y, mo, d)
                .and_then(|date| date.and_hms_opt(h, mi, s))
                .expect("day 1-28 exists in every month")
        })
}

/// A date as operators write it: YYMMDDhhmm when seconds are zero (or, at random, always
/// with seconds), else YYMMDDhhmmss.
fn write_date(date: NaiveDateTime, with_seconds: bool) -> String {
    if date.second() == 0 && !with_seconds {
        date.format("%y%m%d%H%M").to_string()
    } else {
        date.format("%y%m%d%H%M%S").to_string()
    }
}

/// Upper- or lower-cases a key at random, as operators do.
fn key(name: &str, upper: bool) -> String {
    if upper {
        name.to_uppercase()
    } else {
        name.to_owned()
    }
}

proptest! {
    #[test]
    fn parser_never_panics(input in any::<String>()) {
        let _ = parse_receipt(&input);
    }

    #[test]
    fn parser_never_panics_on_receipt_like_noise(
        pieces in prop::collection::vec(
            prop::sample::select(vec![
                "id:", "sub:", "dlvrd:", "submit date:", "done date:", "stat:", "err:", "text:",
                " ", "  ", "123", "ә", "DELIVRD", ":", "submit", "date", "\n", "\t", "0A", "_",
            ]),
            0..40,
        )
    ) {
        let _ = parse_receipt(&pieces.concat());
    }

    #[test]
    fn formatted_receipt_parses_back_to_its_fields(
        id in "[A-Za-z0-9]{1,24}",
        sub in prop::option::of(0u32..1000),
        dlvrd in prop::option::of(0u32..1000),
        submit in prop::option::of(datetime()),
        done in prop::option::of(datetime()),
        stat in prop::option::of(stat()),
        err in prop::option::of("[0-9A-Za-z]{1,6}"),
        text in prop::option::of(any::<String>()),
        upper in any::<bool>(),
        with_seconds in any::<bool>(),
        underscore in any::<bool>(),
    ) {
        let space = if underscore { "_" } else { " " };
        let mut receipt = format!("{}:{id}", key("id", upper));
        if let Some(sub) = sub {
            receipt += &format!(" {}:{sub:03}", key("sub", upper));
        }
        if let Some(dlvrd) = dlvrd {
            receipt += &format!(" {}:{dlvrd:03}", key("dlvrd", upper));
        }
        if let Some(date) = submit {
            receipt += &format!(" {}:{}", key(&format!("submit{space}date"), upper), write_date(date, with_seconds));
        }
        if let Some(date) = done {
            receipt += &format!(" {}:{}", key(&format!("done{space}date"), upper), write_date(date, with_seconds));
        }
        if let Some(stat) = &stat {
            receipt += &format!(" {}:{stat}", key("stat", upper));
        }
        if let Some(err) = &err {
            receipt += &format!(" {}:{err}", key("err", upper));
        }
        if let Some(text) = &text {
            receipt += &format!(" {}:{text}", key("text", upper));
        }
        let parsed = parse_receipt(&receipt)
            .map_err(|e| TestCaseError::fail(format!("{receipt:?}: {e}")))?;
        prop_assert_eq!(&parsed.id, &id);
        prop_assert_eq!(parsed.sub, sub);
        prop_assert_eq!(parsed.dlvrd, dlvrd);
        prop_assert_eq!(parsed.submit_date, submit);
        prop_assert_eq!(parsed.done_date, done);
        prop_assert_eq!(&parsed.stat, &stat);
        prop_assert_eq!(&parsed.err, &err);
        prop_assert_eq!(&parsed.text, &text);
        prop_assert!(parsed.extra.is_empty());
        // Our own formatter agrees with the hand-written one.
        prop_assert_eq!(parse_receipt(&parsed.to_string()).unwrap(), parsed);
    }

    #[test]
    fn normalize_is_idempotent(id in any::<String>()) {
        let once = normalize_operator_id(&id);
        prop_assert_eq!(normalize_operator_id(&once), once.clone());
        if let Some(first) = id_candidates(&id).first() {
            prop_assert_eq!(first, &once);
        }
    }

    #[test]
    fn leading_zeros_and_case_do_not_matter(id in "[0-9a-fA-F]{1,20}", zeros in 0usize..5) {
        let padded = format!("{}{}", "0".repeat(zeros), id.to_uppercase());
        prop_assert_eq!(normalize_operator_id(&padded), normalize_operator_id(&id.to_lowercase()));
    }

    #[test]
    fn hex_and_decimal_renderings_find_each_other(value in any::<u64>(), zeros in 0usize..4) {
        let hex = format!("{}{value:X}", "0".repeat(zeros));
        let decimal = format!("{}{value}", "0".repeat(zeros));
        prop_assert!(id_candidates(&decimal).contains(&normalize_operator_id(&hex)));
        prop_assert!(id_candidates(&hex).contains(&normalize_operator_id(&decimal)));
    }
}
