//! Deadline expressions: what they parse to and the instants they resolve to.

use super::*;

#[test]
fn deadline_expressions_parse() {
    assert_eq!(
        parse_deadline_expr("1 working day"),
        Ok(DeadlineExpr::WorkingDays { days: 1, at: None })
    );
    assert_eq!(
        parse_deadline_expr(" 2 Working Days "),
        Ok(DeadlineExpr::WorkingDays { days: 2, at: None })
    );
    assert_eq!(
        parse_deadline_expr("next working day"),
        Ok(DeadlineExpr::WorkingDays { days: 1, at: None })
    );
    assert_eq!(
        parse_deadline_expr("24h"),
        Ok(DeadlineExpr::After(std::time::Duration::from_secs(
            24 * 3600
        )))
    );
    assert_eq!(
        parse_deadline_expr("90m"),
        Ok(DeadlineExpr::After(std::time::Duration::from_secs(90 * 60)))
    );
    assert_eq!(
        parse_deadline_expr("2026-12-01T10:00:00+05:00"),
        Ok(DeadlineExpr::At(almaty(2026, 12, 1, 10, 0)))
    );
}

#[test]
fn bad_deadline_expressions_say_what_is_expected() {
    for bad in [
        "",
        "two working days",
        "1 working week",
        "soon",
        "2026-12-01T10:00:00",
        "999 working days",
        "the 32nd",
        "27st",
        "next working day 25:00",
        "tomorrow 18:00",
    ] {
        let err = parse_deadline_expr(bad).unwrap_err().to_string();
        for form in [
            "\"1 working day\"",
            "\"next working day 18:00\"",
            "\"the 27th\"",
            "\"24h\"",
        ] {
            assert!(err.contains(form), "{bad}: {err}");
        }
        assert!(!err.contains("nsec") && !err.contains("µs"), "{bad}: {err}");
    }
}

#[test]
fn resolve_each_kind_of_deadline() {
    let cal = kz();
    let accepted = almaty(2026, 4, 10, 15, 0);
    let one = parse_deadline_expr("1 working day").unwrap();
    assert_eq!(
        cal.resolve(&one, accepted),
        cal.end_of_next_working_day(accepted)
    );
    let two = parse_deadline_expr("2 working days").unwrap();
    assert_eq!(
        local(&cal, cal.resolve(&two, accepted)),
        "2026-04-14 23:59:59.999"
    );
    let day = parse_deadline_expr("24h").unwrap();
    assert_eq!(cal.resolve(&day, accepted), accepted + 24 * 3600 * 1000);
    let at = parse_deadline_expr("2026-12-01T10:00:00+05:00").unwrap();
    assert_eq!(cal.resolve(&at, accepted), almaty(2026, 12, 1, 10, 0));
}

#[test]
fn deadline_expressions_round_trip_through_display_and_serde() {
    for text in [
        "1 working day",
        "3 working days",
        "next working day 18:00",
        "2 working days 09:30",
        "the 27th",
        "the 1st 12:00",
        "the 22nd",
        "the 11th",
        "24h",
        "1h 30m",
        "2026-12-01T05:00:00Z",
    ] {
        let expr = parse_deadline_expr(text).unwrap();
        assert_eq!(parse_deadline_expr(&expr.to_string()), Ok(expr), "{text}");
        let json = serde_json::to_string(&expr).unwrap();
        assert_eq!(serde_json::from_str::<DeadlineExpr>(&json).unwrap(), expr);
    }
}

#[test]
fn next_working_day_at_a_time() {
    let cal = kz();
    let expr = parse_deadline_expr("next working day 18:00").unwrap();
    assert_eq!(
        expr,
        parse_deadline_expr("next working day at 18:00").unwrap()
    );
    // Friday 2026-04-10 15:00 → Monday 13 April 18:00.
    let due = cal.resolve(&expr, almaty(2026, 4, 10, 15, 0));
    assert_eq!(local(&cal, due), "2026-04-13 18:00:00.000");
    // Before Nauryz: Friday 20 March → Thursday 26 March.
    let due = cal.resolve(&expr, almaty(2026, 3, 20, 9, 0));
    assert_eq!(local(&cal, due), "2026-03-26 18:00:00.000");
}

#[test]
fn the_27th_is_this_month_until_it_passes_then_next_month() {
    let cal = kz();
    let expr = parse_deadline_expr("the 27th").unwrap();
    assert_eq!(expr, parse_deadline_expr("27th").unwrap());
    assert_eq!(expr, parse_deadline_expr("the 27").unwrap());
    // 2026-04-10: Monday 27 April, a working day.
    let due = cal.resolve(&expr, almaty(2026, 4, 10, 15, 0));
    assert_eq!(local(&cal, due), "2026-04-27 23:59:59.999");
    // On the 27th itself: the end of that day.
    let due = cal.resolve(&expr, almaty(2026, 4, 27, 15, 0));
    assert_eq!(local(&cal, due), "2026-04-27 23:59:59.999");
    // The 28th: next month's 27th (Wednesday 27 May is Kurban ait → Thursday 28 May).
    let due = cal.resolve(&expr, almaty(2026, 4, 28, 9, 0));
    assert_eq!(local(&cal, due), "2026-05-28 23:59:59.999");
}

#[test]
fn the_27th_on_a_day_off_moves_forward_to_the_next_working_day() {
    let cal = kz();
    let expr = parse_deadline_expr("the 27th 18:00").unwrap();
    // Saturday 27 June 2026 → Monday 29 June.
    let due = cal.resolve(&expr, almaty(2026, 6, 1, 9, 0));
    assert_eq!(local(&cal, due), "2026-06-29 18:00:00.000");
    // Monday 29 June 09:00 is still before that deadline: it is not next month's.
    let due = cal.resolve(&expr, almaty(2026, 6, 29, 9, 0));
    assert_eq!(local(&cal, due), "2026-06-29 18:00:00.000");
    // Sunday 27 December 2026 → Monday 28.
    let plain = parse_deadline_expr("the 27th").unwrap();
    let due = cal.resolve(&plain, almaty(2026, 12, 3, 9, 0));
    assert_eq!(local(&cal, due), "2026-12-28 23:59:59.999");
}

#[test]
fn a_day_the_month_lacks_is_its_last_day() {
    let cal = kz();
    let expr = parse_deadline_expr("the 31st").unwrap();
    // April has 30 days: Thursday 30 April 2026.
    let due = cal.resolve(&expr, almaty(2026, 4, 2, 9, 0));
    assert_eq!(local(&cal, due), "2026-04-30 23:59:59.999");
}
