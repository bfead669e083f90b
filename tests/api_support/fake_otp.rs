//! The fake backend's one-time passwords: every code is [`OTP_CODE`], a session may ask once.

use khabar::api::ApiError;
use khabar::api::protocol::{OtpResult, OtpSendRequest, OtpSent, OtpVerdict, OtpVerifyRequest};
use khabar::message::{MessageId, now_ms};
use std::collections::HashMap;
use std::time::Duration;

/// The code the fake "sends" for every OTP session.
pub const OTP_CODE: &str = "042917";

/// Wrong OTP codes allowed per session.
pub const OTP_ATTEMPTS: u32 = 3;

/// One session's code.
#[derive(Default)]
pub struct Otp {
    attempts_left: u32,
    used: bool,
    /// Set by the test to make the code expire.
    pub expired: bool,
}

impl Otp {
    /// Issues a code for a session; a second request for the same session is rate limited.
    pub fn send(
        sessions: &mut HashMap<String, Otp>,
        request: OtpSendRequest,
    ) -> Result<OtpSent, ApiError> {
        if sessions.contains_key(&request.session) {
            return Err(ApiError::rate_limited(30));
        }
        sessions.insert(
            request.session,
            Otp {
                attempts_left: OTP_ATTEMPTS,
                ..Otp::default()
            },
        );
        let ttl = request.ttl.unwrap_or(Duration::from_secs(300)).as_millis() as i64;
        Ok(OtpSent {
            message_id: MessageId::from_parts(now_ms(), 0),
            expires_at: now_ms() + ttl,
        })
    }

    /// Checks a code.
    pub fn verify(sessions: &mut HashMap<String, Otp>, request: OtpVerifyRequest) -> OtpVerdict {
        let verdict = |result, attempts_left| OtpVerdict {
            result,
            attempts_left,
        };
        let Some(otp) = sessions.get_mut(&request.session) else {
            return verdict(OtpResult::UnknownSession, None);
        };
        if otp.used {
            return verdict(OtpResult::AlreadyUsed, None);
        }
        if otp.expired {
            return verdict(OtpResult::Expired, None);
        }
        if otp.attempts_left == 0 {
            return verdict(OtpResult::TooManyAttempts, None);
        }
        if request.code == OTP_CODE {
            otp.used = true;
            return verdict(OtpResult::Ok, None);
        }
        otp.attempts_left -= 1;
        if otp.attempts_left == 0 {
            verdict(OtpResult::TooManyAttempts, None)
        } else {
            verdict(OtpResult::WrongCode, Some(otp.attempts_left))
        }
    }
}
