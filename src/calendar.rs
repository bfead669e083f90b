//! Working days: Kazakhstan's weekends, public holidays and transfers, and the deadlines
//! built on them ("within 1 working day", seed 000; "next working day", "within 2 working
//! days", "the 27th of the month", seed 003).
//!
//! Time zone: `Asia/Almaty`. Kazakhstan moved to a single zone, UTC+5, on 1 March 2024
//! (government decree of 2023); chrono-tz 0.10's tz data has that change (`Asia/Almaty` is
//! +05:00 from 2024-03-01 00:00), which the tests check.
//!
//! Days off come from calendar files ([`data`]): the one shipped with khabar and the
//! operator's own (`[calendar] files`), one entry per day off or working weekend day, a later
//! file winning for the same date. A year no file covers is counted by the Law's fixed-date
//! holidays (`holidays.rs`), each moved off a weekend to the next working day unless it is a
//! religious one; the daemon warns before such a year comes near ([`coverage`]). Inline
//! `holidays` follow the same rule; `extra_days_off` and `extra_working_days` override
//! everything.

pub mod coverage;
pub mod data;
mod deadline;
mod holidays;
mod resolve;

pub use coverage::{COVERAGE_WARN_DAYS, Coverage};
pub use data::{CalendarFile, DayKind, YearStatus};
pub use deadline::{DeadlineExpr, parse_deadline_expr};
pub use holidays::{Holiday, law_holidays};

use crate::message::Millis;
use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveDateTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Years counted by the Law's fixed-date holidays when no file covers them.
const RULE_YEARS: std::ops::RangeInclusive<i32> = 2000..=2100;

/// The `[calendar]` section of config.toml.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CalendarConfig {
    /// IANA time zone the working days are counted in.
    pub time_zone: String,
    /// Weekly days off, e.g. `["Sat", "Sun"]`.
    pub weekend: Vec<Weekday>,
    /// Reads the calendar shipped with khabar first (default true).
    pub shipped: bool,
    /// Calendar files of the operator's own, read after the shipped one (relative paths from
    /// the config file's directory).
    pub files: Vec<PathBuf>,
    /// Further holidays, moved off a weekend unless `moves_if_weekend = false`.
    pub holidays: Vec<Holiday>,
    /// Further days off (one-off days off).
    pub extra_days_off: Vec<NaiveDate>,
    /// Days that are working days whatever else applies.
    pub extra_working_days: Vec<NaiveDate>,
}

impl Default for CalendarConfig {
    /// Asia/Almaty, Saturday and Sunday off, the shipped calendar file.
    fn default() -> Self {
        CalendarConfig {
            time_zone: "Asia/Almaty".to_owned(),
            weekend: vec![Weekday::Sat, Weekday::Sun],
            shipped: true,
            files: Vec::new(),
            holidays: Vec::new(),
            extra_days_off: Vec::new(),
            extra_working_days: Vec::new(),
        }
    }
}

/// Why a calendar or a deadline expression is invalid.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// The time zone is not in the IANA database.
    #[error("unknown time zone {name:?}; use an IANA name such as \"Asia/Almaty\"")]
    UnknownTimeZone {
        /// The configured name.
        name: String,
    },
    /// All seven days are weekend: no day would ever be a working day.
    #[error("the weekend covers all seven days, so there would be no working days")]
    NoWorkingDays,
    /// A calendar file cannot be read or is not valid.
    #[error("calendar file {file}: {reason}")]
    BadFile {
        /// The file.
        file: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A deadline expression could not be read.
    #[error(
        "cannot read deadline {expr:?}: {reason}; write \"1 working day\", \"2 working days\", \
         \"next working day 18:00\", \"the 27th\", a duration such as \"90s\", \"30m\", \"24h\" \
         or \"2d\" (units s, m, h, d; \"1h 30m\" adds them up) or a time with its offset such \
         as \"2026-12-01T10:00:00+05:00\""
    )]
    BadDeadline {
        /// The expression as given.
        expr: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// A day that is not what its weekday makes it, and where that comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DayNote {
    /// Off or working, with why.
    pub kind: DayKind,
    /// The text of the source that says so (None for a day counted by rule or configured
    /// inline).
    pub source: Option<String>,
}

/// A year a calendar file is complete for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoveredYear {
    /// Confirmed or provisional.
    pub status: YearStatus,
    /// The file that covers it (the last one read, if several do).
    pub file: String,
    /// The texts of the sources it rests on.
    pub sources: Vec<String>,
    /// The file's note on the year.
    pub note: Option<String>,
}

/// Answers "is this a working day" and computes working-day deadlines.
#[derive(Clone, Debug)]
pub struct Calendar {
    tz: Tz,
    /// Indexed by `Weekday::num_days_from_monday`.
    weekend: [bool; 7],
    /// Every day that is not what its weekday makes it.
    days: BTreeMap<NaiveDate, DayNote>,
    /// The years some file is complete for.
    years: BTreeMap<i32, CoveredYear>,
}

impl Calendar {
    /// Builds a calendar: reads its files, counts the years they do not cover by rule, adds
    /// the inline holidays and overrides.
    pub fn new(config: &CalendarConfig) -> Result<Calendar, CalendarError> {
        let tz: Tz = config
            .time_zone
            .parse()
            .map_err(|_| CalendarError::UnknownTimeZone {
                name: config.time_zone.clone(),
            })?;
        let mut weekend = [false; 7];
        for day in &config.weekend {
            weekend[day.num_days_from_monday() as usize] = true;
        }
        if weekend.iter().all(|&off| off) {
            return Err(CalendarError::NoWorkingDays);
        }
        let mut calendar = Calendar {
            tz,
            weekend,
            days: BTreeMap::new(),
            years: BTreeMap::new(),
        };
        if config.shipped {
            let file = CalendarFile::parse(data::SHIPPED, data::SHIPPED_NAME)?;
            calendar.add_file(&file, data::SHIPPED_NAME);
        }
        for path in &config.files {
            calendar.add_file(&CalendarFile::read(path)?, &path.display().to_string());
        }
        let mut by_rule: Vec<Holiday> = RULE_YEARS
            .filter(|year| !calendar.years.contains_key(year))
            .flat_map(law_holidays)
            .collect();
        by_rule.extend(config.holidays.iter().cloned());
        calendar.add_holidays(by_rule);
        let inline = |kind: DayKind| DayNote { kind, source: None };
        for date in &config.extra_days_off {
            let note = inline(DayKind::Off("day off (config.toml)".to_owned()));
            calendar.days.insert(*date, note);
        }
        for date in &config.extra_working_days {
            let note = inline(DayKind::Working("working day (config.toml)".to_owned()));
            calendar.days.insert(*date, note);
        }
        Ok(calendar)
    }

    /// Takes a file's days (replacing what earlier files said of the same dates) and years.
    fn add_file(&mut self, file: &CalendarFile, name: &str) {
        let source = |key: &str| file.sources.get(key).cloned();
        for day in &file.days {
            let note = DayNote {
                kind: day.kind(),
                source: source(&day.source),
            };
            self.days.insert(day.date, note);
        }
        for year in &file.years {
            let covered = CoveredYear {
                status: year.status,
                file: name.to_owned(),
                sources: year.sources.iter().filter_map(|k| source(k)).collect(),
                note: year.note.clone(),
            };
            self.years.insert(year.year, covered);
        }
    }

    /// Adds holidays counted by rule: a day already listed keeps its entry; one on a weekend
    /// that moves makes the first regular working day after it a day off.
    fn add_holidays(&mut self, mut holidays: Vec<Holiday>) {
        holidays.sort_by_key(|h| h.date);
        let off = |why: String| DayNote {
            kind: DayKind::Off(why),
            source: None,
        };
        for holiday in &holidays {
            self.days
                .entry(holiday.date)
                .or_insert_with(|| off(holiday.name.clone()));
        }
        let moving: Vec<&Holiday> = holidays
            .iter()
            .filter(|h| h.moves_if_weekend && self.is_weekend(h.date))
            .collect();
        for holiday in moving {
            // The first regular working day after the holiday (a weekday nothing lists).
            // Terminates: the listed days are finite and not every weekday is weekend.
            let mut day = holiday.date;
            while let Some(next) = day.succ_opt() {
                day = next;
                if !self.is_weekend(day) && !self.days.contains_key(&day) {
                    let why = format!(
                        "{} (moved from {})",
                        holiday.name,
                        holiday.date.format("%A %-d %B")
                    );
                    self.days.insert(day, off(why));
                    break;
                }
            }
        }
    }

    /// The time zone working days are counted in.
    pub fn time_zone(&self) -> Tz {
        self.tz
    }

    /// True for a configured weekend day (ignores holidays and transfers).
    pub fn is_weekend(&self, date: NaiveDate) -> bool {
        self.weekend[date.weekday().num_days_from_monday() as usize]
    }

    /// True if `date` is a working day.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        match self.days.get(&date).map(|note| &note.kind) {
            Some(DayKind::Off(_)) => false,
            Some(DayKind::Working(_)) => true,
            None => !self.is_weekend(date),
        }
    }

    /// Why `date` is a day off: the holiday's name (with "moved from …" for a moved one),
    /// the transfer, or "weekend". None for a working day.
    pub fn day_off_reason(&self, date: NaiveDate) -> Option<&str> {
        match self.days.get(&date).map(|note| &note.kind) {
            Some(DayKind::Off(why)) => Some(why),
            Some(DayKind::Working(_)) => None,
            None => self.is_weekend(date).then_some("weekend"),
        }
    }

    /// What the calendar lists for `date`, if anything (days off and working days that are
    /// not what their weekday makes them).
    pub fn note(&self, date: NaiveDate) -> Option<&DayNote> {
        self.days.get(&date)
    }

    /// The first working day strictly after `date` (saturates at chrono's last date).
    pub fn next_working_day(&self, date: NaiveDate) -> NaiveDate {
        let mut day = date;
        while let Some(next) = day.succ_opt() {
            day = next;
            if self.is_working_day(day) {
                break;
            }
        }
        day
    }

    /// The local calendar date of an instant.
    pub fn local_date(&self, at: Millis) -> NaiveDate {
        to_utc(at).with_timezone(&self.tz).date_naive()
    }

    /// The `n`-th working day after the local date of `from` (`n == 0`: that date itself).
    pub fn add_working_days(&self, from: DateTime<Utc>, n: u32) -> NaiveDate {
        let start = self.local_date(from.timestamp_millis());
        (0..n).fold(start, |day, _| self.next_working_day(day))
    }

    /// The last millisecond (23:59:59.999 local) of `date`, as unix milliseconds.
    pub fn end_of_day(&self, date: NaiveDate) -> Millis {
        let last = date
            .and_hms_milli_opt(23, 59, 59, 999)
            .unwrap_or(NaiveDateTime::MAX);
        match self.tz.from_local_datetime(&last).latest() {
            Some(at) => at.timestamp_millis(),
            // 23:59:59.999 skipped by a clock change: one millisecond before the next day.
            None => date
                .checked_add_days(Days::new(1))
                .and_then(|next| self.tz.from_local_datetime(&next.into()).earliest())
                .map_or(last.and_utc().timestamp_millis(), |start| {
                    start.timestamp_millis() - 1
                }),
        }
    }

    /// 23:59:59.999 local of the next working day after the day `accepted` falls on.
    pub fn end_of_next_working_day(&self, accepted: Millis) -> Millis {
        self.end_of_day(self.next_working_day(self.local_date(accepted)))
    }
}

impl Default for Calendar {
    /// The calendar of [`CalendarConfig::default`] (the shipped file, which always parses).
    fn default() -> Self {
        Calendar::new(&CalendarConfig::default())
            .unwrap_or_else(|e| unreachable!("the shipped calendar is checked by its tests: {e}"))
    }
}

/// Earliest instant handled: 0001-01-02T00:00Z (a day's margin for any time zone).
const EARLIEST_MS: Millis = -62_135_510_400_000;
/// Latest instant handled: 9999-12-30T00:00Z.
const LATEST_MS: Millis = 253_402_128_000_000;

/// Unix milliseconds to a UTC time, clamped to years 1–9999 so that local-time conversions
/// and next-day steps never leave chrono's range.
fn to_utc(at: Millis) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(at.clamp(EARLIEST_MS, LATEST_MS)).unwrap_or_default()
}

#[cfg(test)]
mod tests;
