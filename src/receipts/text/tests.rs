use super::*;

fn date(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(y, mo, d)
        .and_then(|d| d.and_hms_opt(h, mi, s))
        .unwrap()
}

#[test]
fn standard_appendix_b_receipt() {
    let r = parse_receipt(
        "id:0123456789 sub:001 dlvrd:001 submit date:2603161012 done date:2603161013 \
         stat:DELIVRD err:000 text:Bir rettik kod: 4829",
    )
    .unwrap();
    assert_eq!(r.id, "0123456789");
    assert_eq!((r.sub, r.dlvrd), (Some(1), Some(1)));
    assert_eq!(r.submit_date, Some(date(2026, 3, 16, 10, 12, 0)));
    assert_eq!(r.done_date, Some(date(2026, 3, 16, 10, 13, 0)));
    assert_eq!(r.stat, Some(ReceiptStat::Delivered));
    assert_eq!(r.err.as_deref(), Some("000"));
    assert_eq!(r.text.as_deref(), Some("Bir rettik kod: 4829"));
    assert!(r.extra.is_empty());
}

#[test]
fn dates_with_seconds_and_four_digit_years() {
    let r = parse_receipt(
        "id:A1 submit date:260316101205 done date:20260316101359 stat:UNDELIV err:001",
    )
    .unwrap();
    assert_eq!(r.submit_date, Some(date(2026, 3, 16, 10, 12, 5)));
    assert_eq!(r.done_date, Some(date(2026, 3, 16, 10, 13, 59)));
    assert_eq!(r.stat, Some(ReceiptStat::Undeliverable));
}

#[test]
fn keys_in_other_cases_and_spellings() {
    let r = parse_receipt(
        "ID:77 Sub:1 DLVRD:0 Submit_Date:2601021200 DONE DATE:2601021201 Stat:expired Err:9",
    )
    .unwrap();
    assert_eq!(r.id, "77");
    assert_eq!(r.submit_date, Some(date(2026, 1, 2, 12, 0, 0)));
    assert_eq!(r.done_date, Some(date(2026, 1, 2, 12, 1, 0)));
    assert_eq!(r.stat, Some(ReceiptStat::Expired));
    assert_eq!(r.err.as_deref(), Some("9"));
}

#[test]
fn missing_fields_are_none() {
    let r = parse_receipt("id:5f3a stat:ACCEPTD").unwrap();
    assert_eq!(r.id, "5f3a");
    assert_eq!(r.stat, Some(ReceiptStat::Accepted));
    assert_eq!(
        (r.sub, r.dlvrd, r.submit_date, r.done_date),
        (None, None, None, None)
    );
    assert_eq!((r.err, r.text), (None, None));
}

#[test]
fn extra_fields_are_kept_in_order() {
    let r =
        parse_receipt("id:9 stat:DELIVRD err:0 imsi:401011234567890 mccmnc:40101 text:x").unwrap();
    assert_eq!(
        r.extra,
        vec![
            ("imsi".to_owned(), "401011234567890".to_owned()),
            ("mccmnc".to_owned(), "40101".to_owned())
        ]
    );
}

#[test]
fn text_runs_to_the_end_even_with_colons_and_keys_inside() {
    let r = parse_receipt("id:1 stat:DELIVRD text:stat:REJECTD id:2 Сәлем: қалайсыз?").unwrap();
    assert_eq!(r.id, "1");
    assert_eq!(r.stat, Some(ReceiptStat::Delivered));
    assert_eq!(
        r.text.as_deref(),
        Some("stat:REJECTD id:2 Сәлем: қалайсыз?")
    );
}

#[test]
fn garbage_numbers_and_dates_do_not_fail_the_receipt() {
    let r = parse_receipt("id:1 sub:abc dlvrd: submit date:2613321299 done date:26 stat:DELIVRD")
        .unwrap();
    assert_eq!(
        (r.sub, r.dlvrd, r.submit_date, r.done_date),
        (None, None, None, None)
    );
    assert_eq!(r.stat, Some(ReceiptStat::Delivered));
}

#[test]
fn errors_for_empty_non_receipt_and_missing_id() {
    assert_eq!(parse_receipt("  "), Err(ReceiptParseError::Empty));
    assert_eq!(
        parse_receipt("Иә, келісемін"),
        Err(ReceiptParseError::NotAReceipt)
    );
    assert_eq!(
        parse_receipt("stat:DELIVRD err:0"),
        Err(ReceiptParseError::MissingId)
    );
    assert_eq!(
        parse_receipt("id: stat:DELIVRD"),
        Err(ReceiptParseError::MissingId)
    );
}

#[test]
fn debug_hides_the_message_text() {
    let r = parse_receipt("id:1 stat:DELIVRD text:Code 482913").unwrap();
    let debug = format!("{r:?}");
    assert!(!debug.contains("482913"), "{debug}");
    assert!(debug.contains("<11 chars>"), "{debug}");
}

#[test]
fn display_formats_appendix_b_and_parses_back() {
    let r = ReceiptText {
        id: "0A1B".into(),
        sub: Some(1),
        dlvrd: Some(0),
        submit_date: Some(date(2026, 12, 31, 23, 59, 0)),
        done_date: Some(date(2027, 1, 1, 0, 0, 7)),
        stat: Some(ReceiptStat::Rejected),
        err: Some("0x45".into()),
        text: Some("Hello".into()),
        extra: vec![],
    };
    let text = r.to_string();
    assert_eq!(
        text,
        "id:0A1B sub:001 dlvrd:000 submit date:2612312359 done date:270101000007 \
         stat:REJECTD err:0x45 text:Hello"
    );
    assert_eq!(parse_receipt(&text).unwrap(), r);
}

#[test]
fn stat_spellings() {
    for (text, stat) in [
        ("DELIVRD", ReceiptStat::Delivered),
        ("delivered", ReceiptStat::Delivered),
        ("UNDELIVERED", ReceiptStat::Undeliverable),
        ("REJECTD", ReceiptStat::Rejected),
        ("ENROUTE", ReceiptStat::Enroute),
        ("DELETED", ReceiptStat::Deleted),
        ("UNKNOWN", ReceiptStat::Unknown),
        ("SKIPPED", ReceiptStat::Skipped),
        ("weird", ReceiptStat::Other("WEIRD".into())),
    ] {
        assert_eq!(ReceiptStat::parse(text), stat, "{text}");
    }
}

#[test]
fn message_state_tlv_values_match_stat_texts() {
    let expected = [
        "SCHEDULED",
        "ENROUTE",
        "DELIVRD",
        "EXPIRED",
        "DELETED",
        "UNDELIV",
        "ACCEPTD",
        "UNKNOWN",
        "REJECTD",
        "SKIPPED",
    ];
    for (state, text) in expected.iter().enumerate() {
        let stat = ReceiptStat::from_message_state(state as u8);
        assert_eq!(stat.as_str(), *text);
        assert_eq!(ReceiptStat::parse(text), stat);
    }
    assert_eq!(
        ReceiptStat::from_message_state(42),
        ReceiptStat::Other("STATE42".into())
    );
}

#[test]
fn final_states_and_their_message_states() {
    use crate::message::State;
    assert_eq!(ReceiptStat::Delivered.final_state(), Some(State::Delivered));
    assert_eq!(ReceiptStat::Expired.final_state(), Some(State::Expired));
    for stat in [
        ReceiptStat::Undeliverable,
        ReceiptStat::Rejected,
        ReceiptStat::Deleted,
    ] {
        assert_eq!(stat.final_state(), Some(State::Undeliverable), "{stat}");
        assert!(stat.is_final());
    }
    for stat in [
        ReceiptStat::Enroute,
        ReceiptStat::Scheduled,
        ReceiptStat::Unknown,
        ReceiptStat::Other("X".into()),
    ] {
        assert!(!stat.is_final(), "{stat}");
    }
}
