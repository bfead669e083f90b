//! Deadline expressions as written in config and requests: `"1 working day"`,
//! `"2 working days"`, `"next working day"`, durations (`"24h"`, `"90m"`, `"1h 30m"`, via
//! humantime) and absolute RFC 3339 times (`"2026-12-01T10:00:00+05:00"`).
//! [`super::Calendar::resolve`] turns one into an instant.

use super::CalendarError;
use crate::message::Millis;
use chrono::{DateTime, SecondsFormat, Utc};
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
    /// The end (23:59:59.999 local) of the N-th working day after the acceptance day.
    WorkingDays(u32),
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
    let words: Vec<&str> = lower.split_whitespace().collect();
    match words[..] {
        ["next", "working", "day"] => return Ok(DeadlineExpr::WorkingDays(1)),
        [count, "working", "day" | "days"] => {
            let n: u32 = count
                .parse()
                .map_err(|_| bad("the number of working days is not a whole number"))?;
            if n > MAX_WORKING_DAYS {
                return Err(bad("more than 366 working days"));
            }
            return Ok(DeadlineExpr::WorkingDays(n));
        }
        [.., "working", _] | [.., "working"] => return Err(bad("not of the form N working days")),
        _ => {}
    }
    if trimmed.contains(['T', 't']) && trimmed.contains(':') {
        return DateTime::parse_from_rfc3339(trimmed)
            .map(|at| DeadlineExpr::At(at.timestamp_millis()))
            .map_err(|e| bad(&format!("not an RFC 3339 time with offset ({e})")));
    }
    humantime::parse_duration(trimmed)
        .map(DeadlineExpr::After)
        .map_err(|e| bad(&e.to_string()))
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
            DeadlineExpr::WorkingDays(1) => f.write_str("1 working day"),
            DeadlineExpr::WorkingDays(n) => write!(f, "{n} working days"),
            DeadlineExpr::After(duration) => write!(f, "{}", humantime::format_duration(*duration)),
            DeadlineExpr::At(at) => match DateTime::<Utc>::from_timestamp_millis(*at) {
                Some(at) => f.write_str(&at.to_rfc3339_opts(SecondsFormat::Millis, false)),
                None => write!(f, "{at} ms"),
            },
        }
    }
}
