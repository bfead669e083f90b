//! The per-recipient rate limit of kinds other than `otp` (`[sending] per_recipient_per_hour`,
//! off by default), in memory. A message over it is deferred until its turn, never dropped.
//! One-time passwords have their own durable limit, counted when they are accepted
//! (`otp::limits`); here an OTP held by it waits for its place.

use crate::config::SendingConfig;
use crate::message::{Kind, Message, Millis};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::time::Duration;

/// The keyed limiter of kinds other than `otp` (None: off).
pub struct RecipientLimits {
    other: Option<DefaultKeyedRateLimiter<String>>,
    clock: DefaultClock,
}

impl RecipientLimits {
    /// Limits from `[sending]`; 0 turns a limit off.
    pub fn new(config: &SendingConfig) -> Self {
        let limiter = |per_hour: u32| {
            NonZeroU32::new(per_hour).map(|n| RateLimiter::keyed(Quota::per_hour(n)))
        };
        RecipientLimits {
            other: limiter(config.per_recipient_per_hour),
            clock: DefaultClock::default(),
        }
    }

    /// None if `message` may go now (and counts it), else how long to wait: an `otp` until
    /// the place its limit held for it, another kind by the in-memory limiter.
    pub fn check(&self, message: &Message, now: Millis) -> Option<Duration> {
        if message.kind == Kind::Otp {
            let until = message.extra.held_until.filter(|&at| at > now)?;
            return Some(Duration::from_millis(
                u64::try_from(until - now).unwrap_or(0),
            ));
        }
        let limiter = self.other.as_ref()?;
        let recipient = &message.recipient;
        match limiter.check_key(&recipient.to_owned()) {
            Ok(()) => None,
            Err(not_until) => Some(not_until.wait_time_from(self.clock.now())),
        }
    }

    /// Forgets recipients whose limits are full again (bounds memory).
    pub fn forget_idle(&self) {
        if let Some(limiter) = &self.other {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{MessageId, State};

    fn message(kind: Kind, held_until: Option<Millis>) -> Message {
        let mut m = Message {
            id: MessageId(1),
            reference: None,
            kind,
            recipient: "77011234567".into(),
            sender: None,
            text: Some("x".into()),
            created: 0,
            send_by: None,
            receipt_by: None,
            attempts: 0,
            next_try: 0,
            state: State::Queued,
            operator: None,
            parts: Vec::new(),
            history: Vec::new(),
            extra: Default::default(),
            concat_ref: None,
        };
        m.extra.held_until = held_until;
        m
    }

    #[test]
    fn an_otp_waits_only_for_the_place_its_limit_held() {
        let limits = RecipientLimits::new(&SendingConfig::default());
        assert_eq!(limits.check(&message(Kind::Otp, None), 1_000), None);
        assert_eq!(
            limits.check(&message(Kind::Otp, Some(61_000)), 1_000),
            Some(Duration::from_secs(60))
        );
        assert_eq!(limits.check(&message(Kind::Otp, Some(500)), 1_000), None);
    }

    #[test]
    fn other_kinds_over_their_limit_wait() {
        let config = SendingConfig {
            per_recipient_per_hour: 2,
            ..SendingConfig::default()
        };
        let limits = RecipientLimits::new(&config);
        let bulk = message(Kind::Bulk, None);
        assert_eq!(limits.check(&bulk, 0), None);
        assert_eq!(limits.check(&bulk, 0), None);
        assert!(limits.check(&bulk, 0).is_some());
    }
}
