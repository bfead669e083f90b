//! The code issued for one identification session as stored (the upstream's login or
//! registration attempt, named by its `session` id; not an SMPP session), and the verdict on a
//! typed code.

use super::OtpError;
use super::secret::CodeHash;
use crate::api::protocol::{OtpResult, OtpVerdict};
use crate::message::Millis;
use serde::{Deserialize, Serialize};

/// The stored state of a session's current code. Holds the keyed hash, never the code.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CodeRecord {
    /// HMAC-SHA256(key, session || 0x00 || code).
    pub hash: CodeHash,
    /// The recipient's E.164 digits.
    pub to: String,
    /// When the code was issued.
    pub issued_at: Millis,
    /// When it stops being valid.
    pub expires_at: Millis,
    /// Wrong codes typed so far.
    pub attempts: u32,
    /// The code was verified and is used up.
    pub used: bool,
    /// Too many wrong codes: nothing verifies until a new code is issued.
    pub locked: bool,
}

impl CodeRecord {
    /// A fresh record for a newly issued code.
    pub(crate) fn new(hash: CodeHash, to: &str, issued_at: Millis, expires_at: Millis) -> Self {
        CodeRecord {
            hash,
            to: to.to_owned(),
            issued_at,
            expires_at,
            attempts: 0,
            used: false,
            locked: false,
        }
    }

    /// The stored bytes.
    pub(crate) fn encode(&self) -> Result<Vec<u8>, OtpError> {
        rmp_serde::to_vec_named(self)
            .map_err(|e| OtpError::Storage(format!("cannot encode an OTP session: {e}")))
    }

    /// Reads stored bytes back.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, OtpError> {
        rmp_serde::from_slice(bytes)
            .map_err(|e| OtpError::Storage(format!("an OTP session record is unreadable: {e}")))
    }

    /// Judges a typed code at `now`; `code_matches` is asked only when the code could still be
    /// valid. Returns the verdict and whether the record changed (and must be written back).
    ///
    /// Order: used → `already_used`, locked → `too_many_attempts`, past `expires_at` →
    /// `expired`, then the code itself. The wrong code that uses up the last attempt answers
    /// `wrong_code` with `attempts_left: 0` and locks the session; later tries answer
    /// `too_many_attempts` until a new code is issued.
    pub(crate) fn judge(
        &mut self,
        now: Millis,
        max_attempts: u32,
        code_matches: impl FnOnce() -> bool,
    ) -> (OtpVerdict, bool) {
        let verdict = |result| OtpVerdict {
            result,
            attempts_left: None,
        };
        if self.used {
            return (verdict(OtpResult::AlreadyUsed), false);
        }
        if self.locked {
            return (verdict(OtpResult::TooManyAttempts), false);
        }
        if now >= self.expires_at {
            return (verdict(OtpResult::Expired), false);
        }
        if code_matches() {
            self.used = true;
            return (verdict(OtpResult::Ok), true);
        }
        self.attempts = self.attempts.saturating_add(1);
        let attempts_left = max_attempts.saturating_sub(self.attempts);
        if attempts_left == 0 {
            self.locked = true;
        }
        let wrong = OtpVerdict {
            result: OtpResult::WrongCode,
            attempts_left: Some(attempts_left),
        };
        (wrong, true)
    }
}
