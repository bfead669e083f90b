//! Faults an operator can be switched into at runtime: throttling, full queue, generic_nack,
//! slow answers, dropped connections, a hang, a write pause, refused binds, a large deliver_sm
//! or a close after every bind, or being down altogether.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::SimError;
pub use crate::inject::{LARGE_DELIVER_MAX, LARGE_DELIVER_MIN};

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
    /// Share (0..=1) of submit_sm answered with generic_nack ESME_RSYSERR (0x08) and the
    /// submit's sequence_number; the message is not accepted (not stored, no receipt).
    pub nack_share: f64,
    /// Until this instant the operator writes nothing on any connection (answers, deliver_sm,
    /// enquire_link_resp) but goes on reading and accepting; what was held is written in
    /// order when the pause ends, or dropped if its connection closes first.
    #[serde(skip)]
    pub pause_until: Option<Instant>,
    /// The next this many bind attempts are refused with ESME_RBINDFAIL (0x0D); each refusal
    /// takes one off.
    pub refuse_binds: u32,
    /// After every successful receiver or transceiver bind, send that connection at once one
    /// legal mobile-originated deliver_sm of exactly this many octets (command_length), its
    /// text in message_payload. From [`LARGE_DELIVER_MIN`] to [`LARGE_DELIVER_MAX`].
    pub large_deliver_after_bind: Option<usize>,
    /// Close every successfully bound connection this many milliseconds after its bind_resp
    /// (no unbind, a plain close).
    pub close_after_bind_ms: Option<u64>,
}

impl FaultSettings {
    /// Checks shares and probabilities are within 0..=1 and sizes are possible.
    pub fn validate(&self) -> Result<(), SimError> {
        for (name, value) in [
            ("throttle_share", self.throttle_share),
            ("queue_full_share", self.queue_full_share),
            ("drop_probability", self.drop_probability),
            ("nack_share", self.nack_share),
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
        if let Some(octets) = self.large_deliver_after_bind {
            crate::inject::check_large(octets)?;
        }
        Ok(())
    }

    /// How long from now the hang lasts, if one is on.
    pub fn hang_remaining(&self) -> Option<Duration> {
        let until = self.hang_until?;
        let now = Instant::now();
        (until > now).then(|| until - now)
    }

    /// How long from now the write pause lasts, if one is on.
    pub fn pause_remaining(&self) -> Option<Duration> {
        let until = self.pause_until?;
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
            Fault::Hang(duration) => self.hang_until = Some(Instant::now() + capped(duration)),
            Fault::Nack(share) => self.nack_share = share,
            Fault::Pause(duration) => self.pause_until = Some(Instant::now() + capped(duration)),
            Fault::RefuseBinds(n) => self.refuse_binds = n,
            Fault::LargeAfterBind(octets) => self.large_deliver_after_bind = octets,
            Fault::CloseAfterBind(after) => {
                self.close_after_bind_ms =
                    after.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            }
            Fault::Down => self.down = true,
            Fault::Up => self.down = false,
            Fault::Clear => *self = Self::default(),
        }
    }
}

/// Hang and pause lengths are capped at ten years (an `Instant` cannot hold much more).
fn capped(duration: Duration) -> Duration {
    duration.min(Duration::from_secs(10 * 365 * 86_400))
}

/// One fault switch, as named on the command line: `throttle 0.1`, `throttle-tps 50`,
/// `queue-full 0.2`, `nack 0.05`, `delay 300`, `drop-after 10`, `drop-probability 0.01`,
/// `hang 5000`, `pause 5000`, `refuse-binds 2`, `large-after-bind 5000`, `close-after-bind 200`,
/// `down`, `up`, `clear`. Values in milliseconds; `off` (or 0) turns an optional switch off.
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
    /// Stop reading and answering for this long.
    Hang(Duration),
    /// Share of submits answered generic_nack ESME_RSYSERR (not accepted).
    Nack(f64),
    /// Write nothing for this long (reading and accepting go on; held PDUs follow in order).
    Pause(Duration),
    /// Refuse the next N binds with ESME_RBINDFAIL.
    RefuseBinds(u32),
    /// A deliver_sm of this many octets after every receiving bind (`None` = off).
    LargeAfterBind(Option<usize>),
    /// Close every connection this long after its bind (`None` = off).
    CloseAfterBind(Option<Duration>),
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
            "nack" => Self::Nack(share(need()?)?),
            "pause" => Self::Pause(millis(need()?)?),
            "refuse-binds" => {
                let v = need()?;
                Self::RefuseBinds(v.parse::<u32>().map_err(|_| {
                    SimError::InvalidFault(format!("{v:?} is not a count of binds"))
                })?)
            }
            "large-after-bind" => Self::LargeAfterBind(
                optional(need()?)?.map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
            ),
            "close-after-bind" => {
                Self::CloseAfterBind(optional(need()?)?.map(Duration::from_millis))
            }
            "down" => Self::Down,
            "up" => Self::Up,
            "clear" => Self::Clear,
            other => {
                return Err(SimError::InvalidFault(format!(
                    "unknown fault {other:?} (throttle, throttle-tps, queue-full, nack, delay, \
                     drop-after, drop-probability, hang, pause, refuse-binds, large-after-bind, \
                     close-after-bind, down, up, clear)"
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
        assert_eq!(
            Fault::parse("nack", Some("0.05")).unwrap(),
            Fault::Nack(0.05)
        );
        assert_eq!(
            Fault::parse("pause", Some("250")).unwrap(),
            Fault::Pause(Duration::from_millis(250))
        );
        assert_eq!(
            Fault::parse("refuse-binds", Some("2")).unwrap(),
            Fault::RefuseBinds(2)
        );
        assert_eq!(
            Fault::parse("large-after-bind", Some("5000")).unwrap(),
            Fault::LargeAfterBind(Some(5000))
        );
        assert_eq!(
            Fault::parse("large-after-bind", Some("off")).unwrap(),
            Fault::LargeAfterBind(None)
        );
        assert_eq!(
            Fault::parse("close-after-bind", Some("200")).unwrap(),
            Fault::CloseAfterBind(Some(Duration::from_millis(200)))
        );
        assert!(Fault::parse("refuse-binds", Some("-1")).is_err());
    }

    #[test]
    fn large_deliver_sizes_are_checked() {
        let mut f = FaultSettings::default();
        f.apply(&Fault::LargeAfterBind(Some(LARGE_DELIVER_MAX)));
        f.validate().unwrap();
        f.apply(&Fault::LargeAfterBind(Some(LARGE_DELIVER_MIN - 1)));
        assert!(f.validate().is_err());
        f.apply(&Fault::LargeAfterBind(Some(LARGE_DELIVER_MAX + 1)));
        assert!(f.validate().is_err());
    }

    #[test]
    fn clear_turns_everything_off() {
        let mut f = FaultSettings::default();
        f.apply(&Fault::Down);
        f.apply(&Fault::Throttle(0.5));
        f.apply(&Fault::Pause(Duration::from_secs(5)));
        f.apply(&Fault::RefuseBinds(3));
        f.apply(&Fault::Nack(0.5));
        f.apply(&Fault::LargeAfterBind(Some(1000)));
        f.apply(&Fault::CloseAfterBind(Some(Duration::from_millis(5))));
        f.apply(&Fault::Clear);
        assert_eq!(f, FaultSettings::default());
    }
}
