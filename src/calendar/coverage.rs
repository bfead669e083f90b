//! How far ahead the calendar files reach: a year no file is complete for is counted by the
//! Law's fixed-date holidays alone (no Kurban ait, no decree transfers), so the daemon warns
//! [`COVERAGE_WARN_DAYS`] ahead — at start, in `khabar status` and as a metric.

use super::{Calendar, CoveredYear};
use crate::message::Millis;
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

/// Warn when the calendar does not cover this many days ahead.
pub const COVERAGE_WARN_DAYS: i64 = 60;

/// How far ahead the calendar is known, as of a day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    /// The last day of the unbroken run of covered years from today (None: today's year is
    /// not covered).
    pub covered_until: Option<NaiveDate>,
    /// Days from today to `covered_until` (0 when today's year is not covered).
    pub days_ahead: i64,
    /// A sentence for the operator when fewer than [`COVERAGE_WARN_DAYS`] are covered.
    pub warning: Option<String>,
}

impl Calendar {
    /// How far ahead of `now` the calendar files reach.
    pub fn coverage(&self, now: Millis) -> Coverage {
        let today = self.local_date(now);
        let mut year = today.year();
        while self.years.contains_key(&year) {
            year += 1;
        }
        let covered_until = (year > today.year())
            .then(|| NaiveDate::from_ymd_opt(year - 1, 12, 31))
            .flatten();
        let days_ahead = covered_until.map_or(0, |end| (end - today).num_days());
        let warning = (days_ahead < COVERAGE_WARN_DAYS).then(|| {
            let gap = NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or(today);
            format!(
                "the working-day calendar does not cover {year} (from {}, {} days ahead): \
                 days off there are counted by the Law's fixed-date holidays only, without \
                 Kurban ait or transfers by decree; add a calendar file for {year} \
                 ([calendar] files, see `khabar calendar {year}`)",
                gap,
                (gap - today).num_days().max(0)
            )
        });
        Coverage {
            covered_until,
            days_ahead,
            warning,
        }
    }

    /// The file covering `year`, if one does.
    pub fn covered_year(&self, year: i32) -> Option<&CoveredYear> {
        self.years.get(&year)
    }
}
