//! Faults an operator can be switched into at runtime: throttling, full queue, slow answers,
//! dropped connections, a hang, or being down altogether.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::SimError;

/// The fault switches of one operator. All off by default.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultSettings {
    /// Share (0..=1) of submit_sm answered ESME_RTHROTTLED (0x58).
    pub throttle_share: f64,
    /// Answer ESME_RTHROTTLED to submit_sm above this many per second on one bind.
    pub throttle_above_tps: Option<u32>,
    /// Share (0..=1) of submit_sm answered ESME_RMSGQFUL (0x14).
    pub queue_full_share: f64,
    /// Delay before every submit_sm_resp, in milliseconds.
    pub response_delay_ms: u64,
    /// Close a connection right after answering its Nth submit_sm.
    pub drop_after_submits: Option<u64>,
    /// Probability (0..=1) that a submit_sm is accepted but its connection closes before the
    /// answer is written (the ESME never learns the message id).
    pub drop_probability: f64,
    /// The operator is down: every connection closed, new ones accepted and closed at once.
    pub down: bool,
    /// Until this instant nothing is read or answered on any connection (a hang).
    #[serde(skip)]
    pub hang_until: Option<Instant>,
}

impl FaultSettings {
    /// Checks shares and probabilities are within 0..=1.
    pub fn validate(&self) -> Result<(), SimError> {
        for (name, value) in [
            ("throttle_share", self.throttle_share),
            ("queue_full_share", self.queue_full_share),
            ("drop_probability", self.drop_probability),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(SimError::InvalidFault(format!(
                    "{name} must be between 0 and 1, not {value}"
                )));
            }
        }
        if self.throttle_above_tps == Some(0) {
            return Err(SimError::InvalidFault(
                "throttle_above_tps must be at least 1".into(),
            ));
        }
        if self.drop_after_submits == Some(0) {
            return Err(SimError::InvalidFault(
                "drop_after_submits must be at least 1".into(),
            ));
        }
        Ok(())
    }

    /// How long from now the hang lasts, if one is on.
    pub fn hang_remaining(&self) -> Option<Duration> {
        let until = self.hang_until?;
        let now = Instant::now();
        (until > now).then(|| until - now)
    }

    /// Applies one switch (as used by the control socket and `SimHandle::apply_fault`).
    pub fn apply(&mut self, fault: &Fault) {
        match *fault {
            Fault::Throttle(share) => self.throttle_share = share,
            Fault::ThrottleAboveTps(tps) => self.throttle_above_tps = tps,
            Fault::QueueFull(share) => self.queue_full_share = share,
            Fault::ResponseDelay(delay) => {
                self.response_delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX)
            }
            Fault::DropAfter(n) => self.drop_after_submits = n,
            Fault::DropProbability(p) => self.drop_probability = p,
            Fault::Hang(duration) => {
                let capped = duration.min(Duration::from_secs(10 * 365 * 86_400));
                self.hang_until = Some(Instant::now() + capped);
            }
            Fault::Down => self.down = true,
            Fault::Up => self.down = false,
            Fault::Clear => *self = Self::default(),
        }
    }
}

/// One fault switch, as named on the command line: `throttle 0.1`, `throttle-tps 50`,
/// `queue-full 0.2`, `delay 300`, `drop-after 10`, `drop-probability 0.01`, `hang 5000`, `down`,
/// `up`, `clear`. Values in milliseconds; `off` (or 0) turns an optional switch off.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Share of submits throttled.
    Throttle(f64),
    /// Throttle above this TPS per bind (`None` = off).
    ThrottleAboveTps(Option<u32>),
    /// Share of submits answered "queue full".
    QueueFull(f64),
    /// Delay before each submit_sm_resp.
    ResponseDelay(Duration),
    /// Drop each connection after N submits (`None` = off).
    DropAfter(Option<u64>),
    /// Probability of dropping the connection on a submit.
    DropProbability(f64),
    /// Stop answering for this long.
    Hang(Duration),
    /// Close all connections and refuse new ones.
    Down,
    /// Back up after `Down`.
    Up,
    /// Every switch off.
    Clear,
}

impl Fault {
    /// Parses the command-line form: a kind and, for most kinds, a value.
    pub fn parse(kind: &str, value: Option<&str>) -> Result<Self, SimError> {
        let need =
            || value.ok_or_else(|| SimError::InvalidFault(format!("fault {kind} needs a value")));
        let share = |v: &str| -> Result<f64, SimError> {
            v.parse::<f64>()
                .ok()
                .filter(|s| (0.0..=1.0).contains(s))
                .ok_or_else(|| SimError::InvalidFault(format!("{v:?} is not a share in 0..=1")))
        };
        let optional = |v: &str| -> Result<Option<u64>, SimError> {
            if v == "off" || v == "0" {
                return Ok(None);
            }
            v.parse::<u64>()
                .map(Some)
                .map_err(|_| SimError::InvalidFault(format!("{v:?} is not a whole number")))
        };
        let millis = |v: &str| -> Result<Duration, SimError> {
            v.parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|_| SimError::InvalidFault(format!("{v:?} is not milliseconds")))
        };
        Ok(match kind {
            "throttle" => Self::Throttle(share(need()?)?),
            "throttle-tps" => Self::ThrottleAboveTps(
                optional(need()?)?.map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
            ),
            "queue-full" => Self::QueueFull(share(need()?)?),
            "delay" => Self::ResponseDelay(millis(need()?)?),
            "drop-after" => Self::DropAfter(optional(need()?)?),
            "drop-probability" => Self::DropProbability(share(need()?)?),
            "hang" => Self::Hang(millis(need()?)?),
            "down" => Self::Down,
            "up" => Self::Up,
            "clear" => Self::Clear,
            other => {
                return Err(SimError::InvalidFault(format!(
                    "unknown fault {other:?} (throttle, throttle-tps, queue-full, delay, \
                     drop-after, drop-probability, hang, down, up, clear)"
                )));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_command_line_faults() {
        assert_eq!(
            Fault::parse("throttle", Some("0.1")).unwrap(),
            Fault::Throttle(0.1)
        );
        assert_eq!(
            Fault::parse("throttle-tps", Some("off")).unwrap(),
            Fault::ThrottleAboveTps(None)
        );
        assert_eq!(
            Fault::parse("hang", Some("1500")).unwrap(),
            Fault::Hang(Duration::from_millis(1500))
        );
        assert!(Fault::parse("throttle", Some("2")).is_err());
        assert!(Fault::parse("throttle", None).is_err());
        assert!(Fault::parse("explode", None).is_err());
    }

    #[test]
    fn clear_turns_everything_off() {
        let mut f = FaultSettings::default();
        f.apply(&Fault::Down);
        f.apply(&Fault::Throttle(0.5));
        f.apply(&Fault::Clear);
        assert_eq!(f, FaultSettings::default());
    }
}
