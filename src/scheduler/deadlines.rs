//! Default deadlines per kind. `otp`: send within 60 s, valid 5 min; `request`: a 24 h reply
//! window; `notification`: sent by the end of the next working day; `bulk`: none.
//! Working days come from a pluggable [`WorkingDays`] rule; until the holiday calendar
//! is given (the daemon gives its holiday calendar), [`EveryDayAlmaty`] treats every day as one.

use crate::message::{Kind, Millis, NewMessage};
use chrono::{Days, TimeZone};
use serde::Deserialize;
use std::time::Duration;

/// Decides where "the end of the next working day" falls.
pub trait WorkingDays: Send + Sync {
    /// The first instant after the next working day following the day of `at`.
    fn end_of_next_working_day(&self, at: Millis) -> Millis;
}

/// Every day is a working day; days run midnight to midnight in Asia/Almaty.
#[derive(Clone, Copy, Debug, Default)]
pub struct EveryDayAlmaty;

impl WorkingDays for EveryDayAlmaty {
    fn end_of_next_working_day(&self, at: Millis) -> Millis {
        let tz = chrono_tz::Asia::Almaty;
        let Some(now) = tz.timestamp_millis_opt(at).single() else {
            return at + 2 * 86_400_000;
        };
        let after_next = now.date_naive().checked_add_days(Days::new(2));
        after_next
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .and_then(|midnight| tz.from_local_datetime(&midnight).earliest())
            .map_or(at + 2 * 86_400_000, |end| end.timestamp_millis())
    }
}

/// A default deadline: none, a fixed time after acceptance, or the end of the next working day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum DeadlineSpec {
    /// No deadline.
    None,
    /// This long after acceptance (written like `60s`, `5m`, `24h`).
    After(Duration),
    /// The end of the next working day (written `end_of_next_working_day`).
    EndOfNextWorkingDay,
}

impl TryFrom<String> for DeadlineSpec {
    type Error = String;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        match text.trim() {
            "none" | "" => Ok(DeadlineSpec::None),
            "end_of_next_working_day" => Ok(DeadlineSpec::EndOfNextWorkingDay),
            other => humantime::parse_duration(other).map(DeadlineSpec::After).map_err(|e| {
                format!("{other:?} is not a deadline: use a duration like \"60s\", \"none\" or \"end_of_next_working_day\" ({e})")
            }),
        }
    }
}

impl DeadlineSpec {
    /// The deadline for a message accepted at `now`.
    pub fn at(self, now: Millis, days: &dyn WorkingDays) -> Option<Millis> {
        match self {
            DeadlineSpec::None => None,
            DeadlineSpec::After(d) => Some(now.saturating_add(crate::message::millis(d))),
            DeadlineSpec::EndOfNextWorkingDay => Some(days.end_of_next_working_day(now)),
        }
    }
}

/// The defaults of one kind.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KindRule {
    /// Default `send_by`.
    #[serde(default = "none")]
    pub send_by: DeadlineSpec,
    /// Default `receipt_by`.
    #[serde(default = "none")]
    pub receipt_by: DeadlineSpec,
    /// Default reply window (requests).
    #[serde(default, with = "humantime_serde")]
    pub reply_window: Option<Duration>,
}

fn none() -> DeadlineSpec {
    DeadlineSpec::None
}

/// The defaults of every kind.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KindDefaults {
    /// One-time passwords.
    pub otp: KindRule,
    /// Proactive-service requests.
    pub request: KindRule,
    /// Notifications.
    pub notification: KindRule,
    /// Bulk.
    pub bulk: KindRule,
}

impl Default for KindDefaults {
    fn default() -> Self {
        let none = KindRule {
            send_by: DeadlineSpec::None,
            receipt_by: DeadlineSpec::None,
            reply_window: None,
        };
        KindDefaults {
            otp: KindRule {
                send_by: DeadlineSpec::After(Duration::from_secs(60)),
                receipt_by: DeadlineSpec::After(Duration::from_secs(300)),
                reply_window: None,
            },
            request: KindRule {
                reply_window: Some(Duration::from_secs(24 * 3600)),
                ..none.clone()
            },
            notification: KindRule {
                send_by: DeadlineSpec::EndOfNextWorkingDay,
                ..none.clone()
            },
            bulk: none,
        }
    }
}

impl KindDefaults {
    /// The rule of a kind.
    pub fn rule(&self, kind: Kind) -> &KindRule {
        match kind {
            Kind::Otp => &self.otp,
            Kind::Request => &self.request,
            Kind::Notification => &self.notification,
            Kind::Bulk => &self.bulk,
        }
    }

    /// Fills in whatever deadlines upstream left out, for a message accepted at `now`.
    pub fn apply(&self, message: &mut NewMessage, now: Millis, days: &dyn WorkingDays) {
        let rule = self.rule(message.kind);
        if message.send_by.is_none() {
            message.send_by = rule.send_by.at(now, days);
        }
        if message.receipt_by.is_none() {
            message.receipt_by = rule.receipt_by.at(now, days);
        }
        if message.extra.reply_window_ms.is_none() {
            message.extra.reply_window_ms = rule.reply_window.map(|d| d.as_millis() as i64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, Timelike};

    #[test]
    fn next_day_ends_at_almaty_midnight_after_tomorrow() {
        let tz = chrono_tz::Asia::Almaty;
        let date = NaiveDate::from_ymd_opt(2025, 3, 14).unwrap();
        let late = tz
            .from_local_datetime(&date.and_hms_opt(23, 30, 0).unwrap())
            .unwrap();
        let end = EveryDayAlmaty.end_of_next_working_day(late.timestamp_millis());
        let end = tz.timestamp_millis_opt(end).unwrap();
        assert_eq!(
            end.date_naive(),
            date.checked_add_days(Days::new(2)).unwrap()
        );
        assert_eq!((end.hour(), end.minute()), (0, 0));
    }

    #[test]
    fn specs_parse_from_config_words() {
        let parse = |s: &str| DeadlineSpec::try_from(s.to_owned());
        assert_eq!(
            parse("90s"),
            Ok(DeadlineSpec::After(Duration::from_secs(90)))
        );
        assert_eq!(parse("none"), Ok(DeadlineSpec::None));
        assert_eq!(
            parse("end_of_next_working_day"),
            Ok(DeadlineSpec::EndOfNextWorkingDay)
        );
        assert!(parse("soonish").is_err());
    }
}
