//! Deadline expressions as written in config and requests: `"1 working day"`,
//! `"2 working days"`, `"next working day"`, each optionally with a local time
//! (`"next working day 18:00"`, `"2 working days at 12:30"`); a day of the month (`"the 27th"`,
//! `"the 1st 09:00"`); durations (`"24h"`, `"90m"`, `"1h 30m"`, `"2d"`, via humantime) and
//! absolute RFC 3339 times (`"2026-12-01T10:00:00+05:00"`).
//! [`super::Calendar::resolve`] turns one into an instant.

use super::CalendarError;
use crate::message::Millis;
use chrono::{DateTime, NaiveTime, SecondsFormat, Timelike, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Longest "N working days" accepted: a year's worth.
const MAX_WORKING_DAYS: u32 = 366;

/// A deadline relative to a message's acceptance, or absolute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum DeadlineExpr {
    /// The N-th working day after the acceptance day: its end (23:59:59.999 local), or `at`
    /// local time on it.
    WorkingDays {
        /// How many working days after the acceptance day.
        days: u32,
        /// The local time on that day; None = its end.
        at: Option<NaiveTime>,
    },
    /// The given day of the month (1-31), the first one still ahead, moved forward to the
    /// next working day when it is a day off (see `resolve.rs`).
    DayOfMonth {
        /// The day of the month.
        day: u32,
        /// The local time on that day; None = its end.
        at: Option<NaiveTime>,
    },
    /// A fixed time after acceptance.
    After(Duration),
    /// A fixed instant, unix milliseconds.
    At(Millis),
}

/// Reads a deadline expression; see the module docs for the forms.
pub fn parse_deadline_expr(input: &str) -> Result<DeadlineExpr, CalendarError> {
    let bad = |reason: &str| CalendarError::BadDeadline {
        expr: input.to_owned(),
        reason: reason.to_owned(),
    };
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(bad("it is empty"));
    }
    let lower = trimmed.to_lowercase();
    let mut words: Vec<&str> = lower.split_whitespace().collect();
    let at = match words.last().and_then(|w| time_of_day(w)) {
        Some(time) if words.len() > 1 => {
            words.pop();
            if words.last() == Some(&"at") {
                words.pop();
            }
            Some(time)
        }
        _ => None,
    };
    match words[..] {
        ["next", "working", "day"] => return Ok(DeadlineExpr::WorkingDays { days: 1, at }),
        [count, "working", "day" | "days"] => {
            let days: u32 = count
                .parse()
                .map_err(|_| bad("the number of working days is not a whole number"))?;
            if days > MAX_WORKING_DAYS {
                return Err(bad("more than 366 working days"));
            }
            return Ok(DeadlineExpr::WorkingDays { days, at });
        }
        [.., "working", _] | [.., "working"] => return Err(bad("not of the form N working days")),
        ["the", word] | [word] if ordinal_day(word, words.len() == 2).is_some() => {
            let day = ordinal_day(word, true).unwrap_or(0);
            if !(1..=31).contains(&day) {
                return Err(bad("a day of the month is 1st to 31st"));
            }
            return Ok(DeadlineExpr::DayOfMonth { day, at });
        }
        _ if at.is_some() => {
            return Err(bad(
                "a time of day goes after working days or a day of the month",
            ));
        }
        _ => {}
    }
    if trimmed.contains(['T', 't']) && trimmed.contains(':') {
        return DateTime::parse_from_rfc3339(trimmed)
            .map(|at| DeadlineExpr::At(at.timestamp_millis()))
            .map_err(|e| bad(&format!("not an RFC 3339 time with offset ({e})")));
    }
    humantime::parse_duration(trimmed)
        .map(DeadlineExpr::After)
        .map_err(|_| bad("not a deadline khabar knows"))
}

/// `HH:MM` (24-hour) as a time of day.
fn time_of_day(word: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(word, "%H:%M").ok()
}

/// The day number of `27th`, `1st`, `2nd`, `3rd`; the suffix may be left out when
/// `suffix_optional` (after "the").
fn ordinal_day(word: &str, suffix_optional: bool) -> Option<u32> {
    let digits = word.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let suffix = &word[digits.len()..];
    let day: u32 = digits.parse().ok()?;
    let fits = suffix == ordinal_suffix(day) || (suffix.is_empty() && suffix_optional);
    fits.then_some(day)
}

/// English ordinal suffix of a day number.
fn ordinal_suffix(day: u32) -> &'static str {
    match (day % 10, day % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    }
}

impl FromStr for DeadlineExpr {
    type Err = CalendarError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_deadline_expr(s)
    }
}

impl TryFrom<String> for DeadlineExpr {
    type Error = CalendarError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        parse_deadline_expr(&s)
    }
}

impl From<DeadlineExpr> for String {
    fn from(expr: DeadlineExpr) -> String {
        expr.to_string()
    }
}

impl fmt::Display for DeadlineExpr {
    /// Writes a form [`parse_deadline_expr`] reads back to the same value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeadlineExpr::WorkingDays { days, at } => {
                match days {
                    1 => f.write_str("1 working day")?,
                    n => write!(f, "{n} working days")?,
                }
                write_time(f, at)
            }
            DeadlineExpr::DayOfMonth { day, at } => {
                write!(f, "the {day}{}", ordinal_suffix(*day))?;
                write_time(f, at)
            }
            DeadlineExpr::After(duration) => write!(f, "{}", humantime::format_duration(*duration)),
            DeadlineExpr::At(at) => match DateTime::<Utc>::from_timestamp_millis(*at) {
                Some(at) => f.write_str(&at.to_rfc3339_opts(SecondsFormat::Millis, false)),
                None => write!(f, "{at} ms"),
            },
        }
    }
}

/// ` HH:MM` after a working-day or day-of-month deadline, when it has a time.
fn write_time(f: &mut fmt::Formatter<'_>, at: &Option<NaiveTime>) -> fmt::Result {
    match at {
        Some(time) => write!(f, " {:02}:{:02}", time.hour(), time.minute()),
        None => Ok(()),
    }
}
