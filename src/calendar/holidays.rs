//! Kazakhstan's public holidays (Law "On holidays in the Republic of Kazakhstan", as amended
//! in 2022: Republic Day restored on 25 October, Independence Day on 16 December only).
//!
//! Dates are our best knowledge; check them each year against the government's decree, which
//! also lists any transferred days off and working Saturdays (configure those in
//! `extra_days_off` / `extra_working_days`). Kurban ait's first day follows the lunar calendar
//! and is announced by the Spiritual Administration of Muslims of Kazakhstan: we ship
//! 2026-05-27 and 2027-05-16 (10 Dhu al-Hijjah by the astronomical calendar; confirm).

use chrono::NaiveDate;
use serde::Deserialize;

/// One public holiday.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Holiday {
    /// The day.
    pub date: NaiveDate,
    /// Its name, shown by `khabar status` and in deadline explanations.
    pub name: String,
    /// When it falls on a weekend, the next working day is off instead. False for religious
    /// holidays (Orthodox Christmas, Kurban ait), which the Labour Code does not move.
    #[serde(default = "moves_by_default")]
    pub moves_if_weekend: bool,
}

fn moves_by_default() -> bool {
    true
}

/// Fixed-date holidays: (month, day, name, moves if on a weekend).
const FIXED: [(u32, u32, &str, bool); 14] = [
    (1, 1, "New Year", true),
    (1, 2, "New Year", true),
    (1, 7, "Orthodox Christmas", false),
    (3, 8, "International Women's Day", true),
    (3, 21, "Nauryz meyramy", true),
    (3, 22, "Nauryz meyramy", true),
    (3, 23, "Nauryz meyramy", true),
    (5, 1, "Kazakhstan People's Unity Day", true),
    (5, 7, "Defender of the Fatherland Day", true),
    (5, 9, "Victory Day", true),
    (7, 6, "Capital Day", true),
    (8, 30, "Constitution Day", true),
    (10, 25, "Republic Day", true),
    (12, 16, "Independence Day", true),
];

/// First day of Kurban ait per year (lunar; see the module docs).
const KURBAN_AIT: [(i32, u32, u32); 2] = [(2026, 5, 27), (2027, 5, 16)];

/// Kazakhstan's public holidays of `year`: the fixed-date ones for any year, plus Kurban ait
/// for the years we know its date (2026, 2027). Sorted by date.
pub fn kazakhstan_holidays(year: i32) -> Vec<Holiday> {
    let fixed = FIXED.iter().filter_map(|&(month, day, name, moves)| {
        Some(Holiday {
            date: NaiveDate::from_ymd_opt(year, month, day)?,
            name: name.to_owned(),
            moves_if_weekend: moves,
        })
    });
    let kurban = KURBAN_AIT
        .iter()
        .filter(|(y, _, _)| *y == year)
        .filter_map(|&(y, month, day)| {
            Some(Holiday {
                date: NaiveDate::from_ymd_opt(y, month, day)?,
                name: "Kurban ait".to_owned(),
                moves_if_weekend: false,
            })
        });
    let mut holidays: Vec<Holiday> = fixed.chain(kurban).collect();
    holidays.sort_by_key(|h| h.date);
    holidays
}
