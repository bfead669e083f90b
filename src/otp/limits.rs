//! The one per-recipient limit on one-time passwords: at most `max_per_hour` OTP SMS to a
//! number in any rolling hour, whether they come from `otp_send` or from a `submit` of kind
//! `otp`, and (for `otp_send`) a minimum gap between codes.
//!
//! The times OTPs went (or are held to go) to a number are kept in the OTP database, so the
//! limit survives a restart, as a short list: a true rolling hour. `governor` is not used
//! because its state lives only in memory and its quota refills gradually (a burst, then one
//! every 12 minutes), which is not "N in any hour".

use super::OtpError;
use crate::message::Millis;

/// One hour in milliseconds: the rolling window of `max_per_hour`.
const HOUR_MS: Millis = 3_600_000;

/// The configured limits.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ResendPolicy {
    /// No new code within this many ms of the previous one to the same number.
    pub resend_after_ms: Millis,
    /// At most this many codes per number in any rolling hour (at least 1).
    pub max_per_hour: u32,
}

/// When codes went to one number, oldest first, within the last hour.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SendLog {
    times: Vec<Millis>,
}

impl SendLog {
    /// Reads the stored list.
    pub(crate) fn decode(bytes: &[u8]) -> Result<SendLog, OtpError> {
        let mut times: Vec<Millis> = rmp_serde::from_slice(bytes).map_err(|e| {
            OtpError::Storage(format!("an OTP resend-limit record is unreadable: {e}"))
        })?;
        times.sort_unstable();
        Ok(SendLog { times })
    }

    /// The stored bytes.
    pub(crate) fn encode(&self) -> Result<Vec<u8>, OtpError> {
        rmp_serde::to_vec(&self.times)
            .map_err(|e| OtpError::Storage(format!("cannot encode an OTP resend limit: {e}")))
    }

    /// Drops times an hour or more before `now`; returns how many.
    pub(crate) fn forget_before(&mut self, now: Millis) -> usize {
        let before = self.times.len();
        self.times.retain(|&t| now.saturating_sub(t) < HOUR_MS);
        before - self.times.len()
    }

    /// True when nothing is left.
    pub(crate) fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    /// Ok when a code may go to the number at `now`, else the whole seconds to wait (≥ 1).
    pub(crate) fn check(&self, now: Millis, policy: ResendPolicy) -> Result<(), u64> {
        let mut wait_ms: Millis = 0;
        if let Some(&last) = self.times.last() {
            wait_ms = wait_ms.max(
                last.saturating_add(policy.resend_after_ms)
                    .saturating_sub(now),
            );
        }
        let cap = policy.max_per_hour.max(1) as usize;
        if self.times.len() >= cap {
            // The send that must leave the window before one more fits.
            let oldest_counted = self.times[self.times.len() - cap];
            wait_ms = wait_ms.max(oldest_counted.saturating_add(HOUR_MS).saturating_sub(now));
        }
        if wait_ms <= 0 {
            return Ok(());
        }
        let seconds = (wait_ms as u64).div_ceil(1000);
        Err(seconds.max(1))
    }

    /// The earliest instant at or after `now` one more SMS fits under `max_per_hour` in every
    /// rolling hour (the log may hold reservations later than `now`).
    pub(crate) fn earliest_slot(&self, now: Millis, max_per_hour: u32) -> Millis {
        let cap = max_per_hour.max(1) as usize;
        if self.times.len() < cap {
            return now;
        }
        // The cap-th newest must have left the hour before one more fits.
        now.max(self.times[self.times.len() - cap].saturating_add(HOUR_MS))
    }

    /// Notes a code sent at `now`.
    pub(crate) fn record(&mut self, now: Millis) {
        self.times.push(now);
        self.times.sort_unstable();
    }
}
