use super::*;

mod deadlines;
mod files;
use chrono::{FixedOffset, Offset};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn kz() -> Calendar {
    Calendar::new(&CalendarConfig::default()).unwrap()
}

/// Unix ms of a local Almaty time (UTC+5 since 2024-03-01).
fn almaty(y: i32, m: u32, day: u32, h: u32, min: u32) -> Millis {
    FixedOffset::east_opt(5 * 3600)
        .unwrap()
        .from_local_datetime(&d(y, m, day).and_hms_opt(h, min, 0).unwrap())
        .unwrap()
        .timestamp_millis()
}

/// The local date and time a deadline falls on, for readable assertions.
fn local(cal: &Calendar, at: Millis) -> String {
    to_utc(at)
        .with_timezone(&cal.time_zone())
        .format("%Y-%m-%d %H:%M:%S%.3f")
        .to_string()
}

#[test]
fn almaty_is_utc_plus_5_since_march_2024() {
    let tz = kz().time_zone();
    let offset = |date: NaiveDate| tz.offset_from_utc_date(&date).fix().local_minus_utc() / 3600;
    assert_eq!(offset(d(2024, 2, 15)), 6);
    assert_eq!(offset(d(2024, 3, 2)), 5);
    assert_eq!(offset(d(2026, 7, 1)), 5);
}

#[test]
fn friday_acceptance_is_due_end_of_monday() {
    let cal = kz();
    // Friday 2026-04-10, 15:00 Almaty.
    let due = cal.end_of_next_working_day(almaty(2026, 4, 10, 15, 0));
    assert_eq!(local(&cal, due), "2026-04-13 23:59:59.999");
}

#[test]
fn acceptance_just_after_local_midnight_counts_as_that_local_day() {
    let cal = kz();
    // 2026-04-09 19:30 UTC is Friday 00:30 in Almaty: due end of Monday, not end of Friday.
    let due = cal.end_of_next_working_day(almaty(2026, 4, 10, 0, 30));
    assert_eq!(local(&cal, due), "2026-04-13 23:59:59.999");
}

#[test]
fn day_before_independence_day_skips_the_holiday() {
    let cal = kz();
    // Tuesday 2026-12-15; Wednesday 16 December is Independence Day.
    let due = cal.end_of_next_working_day(almaty(2026, 12, 15, 10, 0));
    assert_eq!(local(&cal, due), "2026-12-17 23:59:59.999");
    assert_eq!(
        cal.day_off_reason(d(2026, 12, 16)),
        Some("Independence Day")
    );
}

#[test]
fn across_new_year_2027_with_the_saturday_holiday_moved_to_monday() {
    let cal = kz();
    // Thursday 2026-12-31; 1 Jan (Fri) and 2 Jan (Sat, moved to Mon 4 Jan) are holidays.
    assert!(!cal.is_working_day(d(2027, 1, 4)));
    assert_eq!(
        cal.day_off_reason(d(2027, 1, 4)),
        Some("New Year (moved from Saturday 2 January)")
    );
    let due = cal.end_of_next_working_day(almaty(2026, 12, 31, 18, 0));
    assert_eq!(local(&cal, due), "2027-01-05 23:59:59.999");
}

#[test]
fn transferred_working_saturday_is_a_working_day() {
    let config = CalendarConfig {
        extra_working_days: vec![d(2026, 3, 14)],
        ..CalendarConfig::default()
    };
    let cal = Calendar::new(&config).unwrap();
    assert!(cal.is_working_day(d(2026, 3, 14)));
    // Friday 13 March: next working day is that Saturday.
    let due = cal.end_of_next_working_day(almaty(2026, 3, 13, 9, 0));
    assert_eq!(local(&cal, due), "2026-03-14 23:59:59.999");
    assert!(!kz().is_working_day(d(2026, 3, 14)));
}

#[test]
fn transferred_day_off_is_off() {
    let config = CalendarConfig {
        extra_days_off: vec![d(2026, 1, 5)],
        ..CalendarConfig::default()
    };
    let cal = Calendar::new(&config).unwrap();
    assert_eq!(
        cal.day_off_reason(d(2026, 1, 5)),
        Some("day off (config.toml)")
    );
    assert_eq!(cal.next_working_day(d(2026, 1, 2)), d(2026, 1, 6));
}

#[test]
fn nauryz_2026_block_runs_from_saturday_to_wednesday() {
    let cal = kz();
    // 21 (Sat) and 22 (Sun) March fall on the weekend: 24 and 25 March are off instead.
    for day in 21..=25 {
        assert!(!cal.is_working_day(d(2026, 3, day)), "2026-03-{day}");
    }
    let due = cal.end_of_next_working_day(almaty(2026, 3, 20, 12, 0));
    assert_eq!(local(&cal, due), "2026-03-26 23:59:59.999");
}

#[test]
fn nauryz_2027_sunday_holiday_moves_past_the_block() {
    let cal = kz();
    // 21 (Sun), 22 (Mon), 23 (Tue): the Sunday moves to Wednesday 24.
    assert_eq!(cal.next_working_day(d(2027, 3, 19)), d(2027, 3, 25));
}

#[test]
fn womens_day_on_sunday_moves_to_monday() {
    let cal = kz();
    assert!(!cal.is_working_day(d(2026, 3, 9)));
    assert!(cal.is_working_day(d(2026, 3, 10)));
}

#[test]
fn religious_holidays_on_a_weekend_are_not_moved() {
    let cal = kz();
    // Kurban ait 2027 falls on Sunday 16 May; Monday 17 May stays a working day.
    assert_eq!(cal.day_off_reason(d(2027, 5, 16)), Some("Kurban ait"));
    assert!(cal.is_working_day(d(2027, 5, 17)));
    // Kurban ait 2026 is Wednesday 27 May.
    assert!(!cal.is_working_day(d(2026, 5, 27)));
}

#[test]
fn may_holidays_2026() {
    let cal = kz();
    // Unity Day Fri 1 May, Defender's Day Thu 7 May, Victory Day Sat 9 May -> Mon 11 May.
    for day in [1, 7, 11] {
        assert!(!cal.is_working_day(d(2026, 5, day)), "2026-05-{day}");
    }
    assert!(cal.is_working_day(d(2026, 5, 8)));
    assert!(cal.is_working_day(d(2026, 5, 12)));
}

#[test]
fn add_working_days_counts_only_working_days() {
    let cal = kz();
    let from = to_utc(almaty(2026, 3, 20, 12, 0));
    assert_eq!(cal.add_working_days(from, 0), d(2026, 3, 20));
    assert_eq!(cal.add_working_days(from, 1), d(2026, 3, 26));
    assert_eq!(cal.add_working_days(from, 2), d(2026, 3, 27));
    assert_eq!(cal.add_working_days(from, 3), d(2026, 3, 30));
}

#[test]
fn config_reads_from_toml() {
    let config: CalendarConfig = toml::from_str(
        r#"
        time_zone = "Asia/Almaty"
        weekend = ["Sun"]
        extra_working_days = ["2026-01-03"]
        [[holidays]]
        date = "2026-01-07"
        name = "Orthodox Christmas"
        moves_if_weekend = false
        [[holidays]]
        date = "2026-03-08"
        name = "International Women's Day"
        "#,
    )
    .unwrap();
    assert_eq!(config.weekend, vec![Weekday::Sun]);
    assert!(config.holidays[1].moves_if_weekend);
    let cal = Calendar::new(&config).unwrap();
    assert!(
        cal.is_working_day(d(2026, 3, 7)),
        "Saturday works with a Sunday-only weekend"
    );
    assert!(
        !cal.is_working_day(d(2026, 3, 9)),
        "moved from Sunday 8 March"
    );
}

#[test]
fn invalid_configs_are_refused() {
    let tz = CalendarConfig {
        time_zone: "Asia/Alma-Ata-X".into(),
        ..CalendarConfig::default()
    };
    assert!(matches!(
        Calendar::new(&tz),
        Err(CalendarError::UnknownTimeZone { .. })
    ));
    let all = CalendarConfig {
        weekend: vec![
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
            Weekday::Sat,
            Weekday::Sun,
        ],
        ..CalendarConfig::default()
    };
    assert_eq!(
        Calendar::new(&all).unwrap_err(),
        CalendarError::NoWorkingDays
    );
}

#[test]
fn extreme_instants_do_not_panic() {
    let cal = kz();
    let _ = cal.end_of_next_working_day(Millis::MAX);
    let _ = cal.end_of_next_working_day(Millis::MIN);
    let _ = cal.resolve(&DeadlineExpr::After(std::time::Duration::MAX), Millis::MAX);
    let _ = cal.resolve(
        &DeadlineExpr::WorkingDays {
            days: 366,
            at: None,
        },
        Millis::MAX,
    );
    let _ = cal.add_working_days(DateTime::<Utc>::MAX_UTC, 3);
    let _ = cal.add_working_days(DateTime::<Utc>::MIN_UTC, 3);
    let _ = cal.end_of_day(NaiveDate::MAX);
    let _ = cal.end_of_day(NaiveDate::MIN);
    let _ = cal.next_working_day(NaiveDate::MAX);
}
