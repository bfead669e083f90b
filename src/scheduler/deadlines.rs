//! Default deadlines per kind, written like the `deadline` of a request: `otp` — send within
//! `60s`, receipt within `5m`; `request` — a 24 h reply window; `notification` — sent by the
//! end of the next working day (`1 working day`, seed 000); `bulk` — none. Working days are
//! the daemon's [`Calendar`].

use crate::calendar::{Calendar, DeadlineExpr, parse_deadline_expr};
use crate::message::{Kind, Millis, NewMessage};
use serde::Deserialize;
use std::fmt;
use std::time::Duration;

/// A default deadline: none, or a deadline expression ("60s", "1 working day", "the 27th").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct DeadlineSpec(pub Option<DeadlineExpr>);

impl TryFrom<String> for DeadlineSpec {
    type Error = String;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        match text.trim() {
            "none" | "" => Ok(DeadlineSpec(None)),
            // the name earlier releases documented
            "end_of_next_working_day" => Ok(DeadlineSpec(Some(DeadlineExpr::WorkingDays {
                days: 1,
                at: None,
            }))),
            other => parse_deadline_expr(other)
                .map(|expr| DeadlineSpec(Some(expr)))
                .map_err(|e| format!("{e}, or \"none\"")),
        }
    }
}

impl fmt::Display for DeadlineSpec {
    /// The form config.toml takes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(expr) => write!(f, "{expr}"),
            None => f.write_str("none"),
        }
    }
}

impl DeadlineSpec {
    /// This long after acceptance.
    pub fn after(duration: Duration) -> Self {
        DeadlineSpec(Some(DeadlineExpr::After(duration)))
    }

    /// The deadline for a message accepted at `now`.
    pub fn at(self, now: Millis, calendar: &Calendar) -> Option<Millis> {
        self.0.map(|expr| calendar.resolve(&expr, now))
    }
}

/// The defaults of one kind.
#[derive(Clone, Debug, PartialEq)]
pub struct KindRule {
    /// Default `send_by`.
    pub send_by: DeadlineSpec,
    /// Default `receipt_by`.
    pub receipt_by: DeadlineSpec,
    /// Default reply window (requests).
    pub reply_window: Option<Duration>,
}

/// One kind's section as written: what it leaves out keeps the kind's default.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleOverrides {
    send_by: Option<DeadlineSpec>,
    receipt_by: Option<DeadlineSpec>,
    #[serde(default, with = "humantime_serde")]
    reply_window: Option<Duration>,
}

impl RuleOverrides {
    fn over(self, default: KindRule) -> KindRule {
        KindRule {
            send_by: self.send_by.unwrap_or(default.send_by),
            receipt_by: self.receipt_by.unwrap_or(default.receipt_by),
            reply_window: self.reply_window.or(default.reply_window),
        }
    }
}

/// `[scheduler.kinds]` as written.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct KindsOverrides {
    otp: RuleOverrides,
    request: RuleOverrides,
    notification: RuleOverrides,
    bulk: RuleOverrides,
}

impl From<KindsOverrides> for KindDefaults {
    fn from(written: KindsOverrides) -> Self {
        let default = KindDefaults::default();
        KindDefaults {
            otp: written.otp.over(default.otp),
            request: written.request.over(default.request),
            notification: written.notification.over(default.notification),
            bulk: written.bulk.over(default.bulk),
        }
    }
}

/// The defaults of every kind (`[scheduler.kinds.otp]`, …); a key left out keeps the kind's
/// default.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(from = "KindsOverrides")]
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
            send_by: DeadlineSpec(None),
            receipt_by: DeadlineSpec(None),
            reply_window: None,
        };
        KindDefaults {
            otp: KindRule {
                send_by: DeadlineSpec::after(Duration::from_secs(60)),
                receipt_by: DeadlineSpec::after(Duration::from_secs(300)),
                reply_window: None,
            },
            request: KindRule {
                reply_window: Some(Duration::from_secs(24 * 3600)),
                ..none.clone()
            },
            notification: KindRule {
                send_by: DeadlineSpec(Some(DeadlineExpr::WorkingDays { days: 1, at: None })),
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
    pub fn apply(&self, message: &mut NewMessage, now: Millis, calendar: &Calendar) {
        let rule = self.rule(message.kind);
        if message.send_by.is_none() {
            message.send_by = rule.send_by.at(now, calendar);
            if message.send_by.is_some() {
                let kind = message.kind;
                message.extra.deadline_rule = Some(format!("{} ({kind} default)", rule.send_by));
            }
        }
        if message.receipt_by.is_none() {
            message.receipt_by = rule.receipt_by.at(now, calendar);
        }
        if message.extra.reply_window_ms.is_none() {
            message.extra.reply_window_ms = rule.reply_window.map(|d| d.as_millis() as i64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notification_defaults_to_the_end_of_the_next_working_day() {
        let calendar = Calendar::default();
        let friday = chrono::DateTime::parse_from_rfc3339("2026-04-10T15:00:00+05:00")
            .unwrap()
            .timestamp_millis();
        let rule = KindDefaults::default();
        assert_eq!(
            rule.notification.send_by.at(friday, &calendar),
            Some(calendar.end_of_next_working_day(friday))
        );
        assert_eq!(
            rule.otp.send_by.at(friday, &calendar),
            Some(friday + 60_000)
        );
        assert_eq!(rule.bulk.send_by.at(friday, &calendar), None);
    }

    #[test]
    fn a_kind_section_changes_only_what_it_names() {
        let kinds: KindDefaults = toml::from_str(
            "[otp]\nsend_by = \"30s\"\n[notification]\nsend_by = \"next working day 18:00\"",
        )
        .unwrap();
        let default = KindDefaults::default();
        assert_eq!(
            kinds.otp.send_by,
            DeadlineSpec::after(Duration::from_secs(30))
        );
        assert_eq!(kinds.otp.receipt_by, default.otp.receipt_by);
        assert_eq!(kinds.request, default.request);
        assert_eq!(
            kinds.notification.send_by.to_string(),
            "1 working day 18:00"
        );
        let empty: KindDefaults = toml::from_str("[otp]").unwrap();
        assert_eq!(empty, default);
        assert!(toml::from_str::<KindDefaults>("[otp]\nsend_bye = \"1s\"").is_err());
    }

    #[test]
    fn specs_parse_from_config_words() {
        let parse = |s: &str| DeadlineSpec::try_from(s.to_owned());
        assert_eq!(
            parse("90s"),
            Ok(DeadlineSpec::after(Duration::from_secs(90)))
        );
        assert_eq!(parse("none"), Ok(DeadlineSpec(None)));
        let one_day = Ok(DeadlineSpec(Some(DeadlineExpr::WorkingDays {
            days: 1,
            at: None,
        })));
        assert_eq!(parse("end_of_next_working_day"), one_day);
        assert_eq!(parse("1 working day"), one_day);
        assert!(parse("soonish").unwrap_err().contains("\"none\""));
    }
}
