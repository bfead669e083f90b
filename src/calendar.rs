//! Working days: Kazakhstan's weekends, public holidays and transfers, and the deadlines
//! built on them ("within 1 working day", seed 000; "next working day", "within 2 working
//! days", seed 003).
//!
//! Time zone: `Asia/Almaty`. Kazakhstan moved to a single zone, UTC+5, on 1 March 2024
//! (government decree of 2023); chrono-tz 0.10's tz data has that change (`Asia/Almaty` is
//! +05:00 from 2024-03-01 00:00), which the tests check.
//!
//! Days off: the configured weekend days, every configured holiday, `extra_days_off` (days off
//! transferred by government decree), and, by the Labour Code's rule on holidays that fall on
//! a day off, the next working day after a holiday that falls on a weekend — except religious
//! holidays (Orthodox Christmas, Kurban ait), which are never moved. `extra_working_days` (e.g. a Saturday made a
//! working day by decree) are working days whatever else applies.

mod deadline;
mod holidays;

pub use deadline::{DeadlineExpr, parse_deadline_expr};
pub use holidays::{Holiday, kazakhstan_holidays};

use crate::message::Millis;
use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveDateTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

/// The `[calendar]` section of config.toml.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CalendarConfig {
    /// IANA time zone the working days are counted in.
    pub time_zone: String,
    /// Weekly days off, e.g. `["Sat", "Sun"]`.
    pub weekend: Vec<Weekday>,
    /// Public holidays.
    pub holidays: Vec<Holiday>,
    /// Further days off (days off transferred by decree, one-off days off).
    pub extra_days_off: Vec<NaiveDate>,
    /// Days that are working days even if a weekend or holiday (transferred working days).
    pub extra_working_days: Vec<NaiveDate>,
}

impl Default for CalendarConfig {
    /// Asia/Almaty, Saturday and Sunday off, Kazakhstan's public holidays of 2026 and 2027,
    /// no decree transfers (add them per year as the government publishes them).
    fn default() -> Self {
        CalendarConfig {
            time_zone: "Asia/Almaty".to_owned(),
            weekend: vec![Weekday::Sat, Weekday::Sun],
            holidays: [2026, 2027]
                .into_iter()
                .flat_map(kazakhstan_holidays)
                .collect(),
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
    /// A deadline expression could not be read.
    #[error(
        "cannot read deadline {expr:?}: {reason}; expected e.g. \"1 working day\", \
         \"2 working days\", \"24h\", \"90m\" or \"2026-12-01T10:00:00+05:00\""
    )]
    BadDeadline {
        /// The expression as given.
        expr: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Answers "is this a working day" and computes working-day deadlines.
#[derive(Clone, Debug)]
pub struct Calendar {
    tz: Tz,
    /// Indexed by `Weekday::num_days_from_monday`.
    weekend: [bool; 7],
    /// Every day off that is not a plain weekend day, with its reason.
    days_off: BTreeMap<NaiveDate, String>,
    extra_working: BTreeSet<NaiveDate>,
}

impl Calendar {
    /// Builds a calendar, applying the weekend-transfer rule to the holidays.
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
            days_off: BTreeMap::new(),
            extra_working: config.extra_working_days.iter().copied().collect(),
        };
        for holiday in &config.holidays {
            calendar
                .days_off
                .entry(holiday.date)
                .or_insert_with(|| holiday.name.clone());
        }
        for date in &config.extra_days_off {
            calendar
                .days_off
                .entry(*date)
                .or_insert_with(|| "day off".to_owned());
        }
        let mut moving: Vec<&Holiday> = config
            .holidays
            .iter()
            .filter(|h| h.moves_if_weekend && calendar.is_weekend(h.date))
            .collect();
        moving.sort_by_key(|h| h.date);
        for holiday in moving {
            // The first regular working day after the holiday (not weekend, not already off,
            // not a decree working day). Terminates: the days off are finite and not every
            // weekday is weekend.
            let mut day = holiday.date;
            while let Some(next) = day.succ_opt() {
                day = next;
                let regular_working = !calendar.is_weekend(day)
                    && !calendar.days_off.contains_key(&day)
                    && !calendar.extra_working.contains(&day);
                if regular_working {
                    let reason = format!("{} (moved from {})", holiday.name, holiday.date);
                    calendar.days_off.insert(day, reason);
                    break;
                }
            }
        }
        Ok(calendar)
    }

    /// The time zone working days are counted in.
    pub fn time_zone(&self) -> Tz {
        self.tz
    }

    /// True for a weekday that is not a weekend day (ignores holidays and transfers).
    fn is_weekend(&self, date: NaiveDate) -> bool {
        self.weekend[date.weekday().num_days_from_monday() as usize]
            && !self.extra_working.contains(&date)
    }

    /// True if `date` is a working day.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        self.extra_working.contains(&date)
            || !(self.is_weekend(date) || self.days_off.contains_key(&date))
    }

    /// Why `date` is a day off: the holiday's name (with "moved from …" for a transferred
    /// one), "day off", or "weekend". None for a working day.
    pub fn day_off_reason(&self, date: NaiveDate) -> Option<&str> {
        if self.is_working_day(date) {
            None
        } else {
            Some(self.days_off.get(&date).map_or("weekend", String::as_str))
        }
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

    /// The instant a deadline expression means for a message accepted at `accepted`:
    /// N working days = the end of the N-th working day after the acceptance day (so
    /// "1 working day" is [`Calendar::end_of_next_working_day`]); a duration is added to
    /// `accepted`; an absolute time is itself.
    pub fn resolve(&self, expr: &DeadlineExpr, accepted: Millis) -> Millis {
        match expr {
            DeadlineExpr::WorkingDays(n) => {
                self.end_of_day(self.add_working_days(to_utc(accepted), *n))
            }
            DeadlineExpr::After(duration) => {
                let ms = Millis::try_from(duration.as_millis()).unwrap_or(Millis::MAX);
                accepted.saturating_add(ms)
            }
            DeadlineExpr::At(at) => *at,
        }
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
