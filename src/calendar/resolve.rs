//! From a deadline expression to an instant.
//!
//! "The 27th" is the 27th of the month the message is accepted in, or of the next month once
//! that has passed. When it is not a working day the deadline moves **forward** to the next
//! working day: the source document (seed 003) sets the 27th as a term for forming a need, and
//! the Civil Code of Kazakhstan (art. 173) ends a term whose last day is a day off on the next
//! working day, so a message due "by the 27th" is not cut short by a weekend. A month without
//! the day (the 31st in April) uses its last day.

use super::{Calendar, DeadlineExpr, to_utc};
use crate::message::Millis;
use chrono::{Datelike, Months, NaiveDate, NaiveTime, TimeZone};

impl Calendar {
    /// The instant a deadline expression means for a message accepted at `accepted`:
    /// N working days = the end (or the given time) of the N-th working day after the
    /// acceptance day, so "1 working day" is [`Calendar::end_of_next_working_day`]; the N-th
    /// of the month = the end (or the given time) of that day, moved forward off a day off; a
    /// duration is added to `accepted`; an absolute time is itself.
    pub fn resolve(&self, expr: &DeadlineExpr, accepted: Millis) -> Millis {
        match *expr {
            DeadlineExpr::WorkingDays { days, at } => {
                self.on_day(self.add_working_days(to_utc(accepted), days), at)
            }
            DeadlineExpr::DayOfMonth { day, at } => self.day_of_month(day, at, accepted),
            DeadlineExpr::After(duration) => {
                let ms = Millis::try_from(duration.as_millis()).unwrap_or(Millis::MAX);
                accepted.saturating_add(ms)
            }
            DeadlineExpr::At(at) => at,
        }
    }

    /// `at` local on `date`, or the day's end without a time. A time a clock change skips
    /// is taken as the first instant after the gap.
    fn on_day(&self, date: NaiveDate, at: Option<NaiveTime>) -> Millis {
        let Some(time) = at else {
            return self.end_of_day(date);
        };
        let local = date.and_time(time);
        match self.tz.from_local_datetime(&local).earliest() {
            Some(instant) => instant.timestamp_millis(),
            None => (0..=180)
                .find_map(|minutes| {
                    let later = local + chrono::Duration::minutes(minutes);
                    self.tz.from_local_datetime(&later).earliest()
                })
                .map_or(self.end_of_day(date), |i| i.timestamp_millis()),
        }
    }

    /// The first `day`-of-month deadline after `accepted` (see the module docs).
    fn day_of_month(&self, day: u32, at: Option<NaiveTime>, accepted: Millis) -> Millis {
        let today = self.local_date(accepted);
        let first = today.with_day(1).unwrap_or(today);
        // Two months always hold one that is still ahead; a third guards clock oddities.
        for ahead in 0..3 {
            let Some(month) = first.checked_add_months(Months::new(ahead)) else {
                break;
            };
            let last = month
                .checked_add_months(Months::new(1))
                .and_then(|next| next.pred_opt())
                .unwrap_or(month);
            let date = month.with_day(day.min(last.day())).unwrap_or(last);
            let due = if self.is_working_day(date) {
                date
            } else {
                self.next_working_day(date)
            };
            let instant = self.on_day(due, at);
            if instant > accepted {
                return instant;
            }
        }
        self.end_of_day(today)
    }
}
