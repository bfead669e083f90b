//! Calendar files: the shipped data against the Law's rule, the operator's own files, and
//! the warning when the files run out.

use super::*;
use chrono::Datelike;

/// The days off of `year` by the Law's rule (fixed-date holidays moved off weekends), plus
/// Kurban ait as given, with every other year left as the shipped file says.
fn by_rule(year: i32, kurban_ait: NaiveDate) -> BTreeMap<NaiveDate, String> {
    let config = CalendarConfig {
        shipped: false,
        holidays: vec![Holiday {
            date: kurban_ait,
            name: "Kurban ait".into(),
            moves_if_weekend: false,
        }],
        ..CalendarConfig::default()
    };
    let rule = Calendar::new(&config).unwrap();
    days_off(&rule, year)
}

/// Every day of `year` that is off though not a weekend day, or a weekend day named.
fn days_off(cal: &Calendar, year: i32) -> BTreeMap<NaiveDate, String> {
    let mut out = BTreeMap::new();
    let mut day = d(year, 1, 1);
    while day.year() == year {
        if let Some(DayNote {
            kind: DayKind::Off(_),
            ..
        }) = cal.note(day)
        {
            out.insert(day, cal.day_off_reason(day).unwrap_or_default().to_owned());
        }
        day = day.succ_opt().unwrap();
    }
    out
}

#[test]
fn the_shipped_years_agree_with_the_law_as_no_decree_moved_a_day() {
    let shipped = kz();
    for (year, kurban) in [(2026, d(2026, 5, 27)), (2027, d(2027, 5, 16))] {
        let dates = |m: BTreeMap<NaiveDate, String>| m.into_keys().collect::<Vec<_>>();
        assert_eq!(
            dates(days_off(&shipped, year)),
            dates(by_rule(year, kurban)),
            "{year}"
        );
    }
    // 2026 as the e-government portal counts it: 119 days off, 246 working days.
    let working = (0..365)
        .filter(|&n| shipped.is_working_day(d(2026, 1, 1) + chrono::Days::new(n)))
        .count();
    assert_eq!(working, 246);
}

#[test]
fn every_shipped_day_cites_a_source_and_the_years_say_how_sure_they_are() {
    let cal = kz();
    for year in [2026, 2027] {
        let covered = cal.covered_year(year).expect("shipped year");
        assert!(!covered.sources.is_empty());
        for (date, _) in days_off(&cal, year) {
            assert!(cal.note(date).unwrap().source.is_some(), "{date}");
        }
    }
    assert_eq!(
        cal.covered_year(2026).unwrap().status,
        YearStatus::Confirmed
    );
    assert_eq!(
        cal.covered_year(2027).unwrap().status,
        YearStatus::Provisional
    );
    assert!(cal.covered_year(2028).is_none());
}

#[test]
fn a_year_no_file_covers_is_counted_by_the_laws_fixed_holidays() {
    let cal = kz();
    // Friday 2027-12-31: 1 and 2 January 2028 fall on the weekend and move to 3 and 4
    // January, so "1 working day" ends on Wednesday 5 January.
    let due = cal.end_of_next_working_day(almaty(2027, 12, 31, 12, 0));
    assert_eq!(local(&cal, due), "2028-01-05 23:59:59.999");
}

#[test]
fn the_coverage_warning_comes_within_60_days_of_an_uncovered_year() {
    let cal = kz();
    let far = cal.coverage(almaty(2026, 12, 3, 12, 0));
    assert_eq!(far.covered_until, Some(d(2027, 12, 31)));
    assert!(far.warning.is_none(), "{far:?}");
    let near = cal.coverage(almaty(2027, 11, 15, 12, 0));
    assert_eq!(near.days_ahead, 46);
    let warning = near.warning.expect("a warning");
    assert!(warning.contains("2028"), "{warning}");
    let beyond = cal.coverage(almaty(2028, 2, 1, 12, 0));
    assert_eq!((beyond.covered_until, beyond.days_ahead), (None, 0));
    assert!(beyond.warning.is_some());
}

#[test]
fn an_operators_file_adds_a_year_and_overrides_a_shipped_day() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kz-2028.toml");
    std::fs::write(
        &path,
        r#"
        years = [{ year = 2028, status = "confirmed", sources = ["decree"] }]
        days = [
          { date = 2028-01-08, working = "Saturday made a working day", source = "decree" },
          { date = 2028-01-03, off = "New Year (moved from Saturday 1 January)", source = "decree" },
          { date = 2027-05-17, off = "Kurban ait as announced", source = "decree" },
        ]
        [sources]
        decree = "Government decree No. 1 on transfers of days off in 2028"
        "#,
    )
    .unwrap();
    let config = CalendarConfig {
        files: vec![path],
        ..CalendarConfig::default()
    };
    let cal = Calendar::new(&config).unwrap();
    assert!(cal.is_working_day(d(2028, 1, 8)));
    assert!(!cal.is_working_day(d(2027, 5, 17)));
    assert!(cal.covered_year(2028).is_some());
    // 2028 covered by the file: only what it lists is off (4 January is not).
    assert!(cal.is_working_day(d(2028, 1, 4)));
    assert_eq!(
        cal.coverage(almaty(2027, 11, 15, 12, 0)).covered_until,
        Some(d(2028, 12, 31))
    );
}

#[test]
fn a_bad_calendar_file_is_refused_with_its_name_and_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    for (text, expected) in [
        (
            "days = [{ date = 2028-01-08, off = \"x\", source = \"nowhere\" }]",
            "unknown source \"nowhere\"",
        ),
        (
            "days = [{ date = 2028-01-08, source = \"s\" }]\n[sources]\ns = \"x\"",
            "either off",
        ),
        ("days = [{ date = \"soon\" }]", "kz.toml"),
    ] {
        let path = dir.path().join("kz.toml");
        std::fs::write(&path, text).unwrap();
        let config = CalendarConfig {
            files: vec![path.clone()],
            ..CalendarConfig::default()
        };
        let err = Calendar::new(&config).unwrap_err().to_string();
        assert!(err.contains(expected) && err.contains("kz.toml"), "{err}");
    }
    let missing = CalendarConfig {
        files: vec![dir.path().join("absent.toml")],
        ..CalendarConfig::default()
    };
    let err = Calendar::new(&missing).unwrap_err().to_string();
    assert!(
        err.contains("absent.toml") && err.contains("cannot read"),
        "{err}"
    );
}
