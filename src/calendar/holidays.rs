//! Holidays counted by rule: the fixed-date holidays of the Law "On holidays in the Republic
//! of Kazakhstan" (as amended in 2022: Republic Day on 25 October, Independence Day on 16
//! December only), for years no calendar file covers, and holidays configured inline in
//! `[calendar] holidays`. A holiday on a weekend moves to the next working day unless it is a
//! religious one (art. 5 of the Law). The years the files cover list every day explicitly.

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

/// The Law's fixed-date holidays of `year`, sorted by date: what a year no calendar file covers
/// is counted by (Kurban ait follows the lunar calendar and is only in the files).
pub fn law_holidays(year: i32) -> Vec<Holiday> {
    FIXED
        .iter()
        .filter_map(|&(month, day, name, moves)| {
            Some(Holiday {
                date: NaiveDate::from_ymd_opt(year, month, day)?,
                name: name.to_owned(),
                moves_if_weekend: moves,
            })
        })
        .collect()
}
