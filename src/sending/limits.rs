//! Per-recipient rate limits per kind (default: 5 OTPs per number per hour). A message over
//! its limit is deferred until its turn, never dropped.

use crate::config::SendingConfig;
use crate::message::Kind;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::time::Duration;

/// Keyed limiters: one for OTPs, one for everything else (either may be off).
pub struct RecipientLimits {
    otp: Option<DefaultKeyedRateLimiter<String>>,
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
            otp: limiter(config.otp_per_recipient_per_hour),
            other: limiter(config.per_recipient_per_hour),
            clock: DefaultClock::default(),
        }
    }

    /// None if a message of `kind` may go to `recipient` now (and counts it), else how long
    /// to wait.
    pub fn check(&self, kind: Kind, recipient: &str) -> Option<Duration> {
        let limiter = if kind == Kind::Otp {
            self.otp.as_ref()
        } else {
            self.other.as_ref()
        }?;
        match limiter.check_key(&recipient.to_owned()) {
            Ok(()) => None,
            Err(not_until) => Some(not_until.wait_time_from(self.clock.now())),
        }
    }

    /// Forgets recipients whose limits are full again (bounds memory).
    pub fn forget_idle(&self) {
        for limiter in [&self.otp, &self.other].into_iter().flatten() {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sixth_otp_in_an_hour_waits() {
        let limits = RecipientLimits::new(&SendingConfig::default());
        for _ in 0..5 {
            assert_eq!(limits.check(Kind::Otp, "77011234567"), None);
        }
        let wait = limits
            .check(Kind::Otp, "77011234567")
            .expect("over the limit");
        assert!(wait > Duration::from_secs(60));
        assert_eq!(limits.check(Kind::Otp, "77051234567"), None);
        assert_eq!(limits.check(Kind::Notification, "77011234567"), None);
    }
}
