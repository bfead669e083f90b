//! Range checks on the config and on `issue` arguments.

use super::OtpError;
use super::codes::{MAX_LENGTH, MIN_LENGTH};
use super::{MAX_SESSION_BYTES, MAX_TTL, MIN_TTL, OtpConfig};
use std::time::Duration;

/// Refuses config values the service cannot work with.
pub(crate) fn check_config(config: &OtpConfig) -> Result<(), OtpError> {
    let field = |name: &str, e: OtpError| match e {
        OtpError::Invalid(why) => OtpError::Invalid(format!("otp.{name}: {why}")),
        other => other,
    };
    check_length(config.length).map_err(|e| field("length", e))?;
    check_ttl(config.ttl).map_err(|e| field("ttl", e))?;
    if config.max_attempts == 0 {
        return Err(OtpError::Invalid(
            "otp.max_attempts must be at least 1".into(),
        ));
    }
    if config.max_per_hour == 0 {
        return Err(OtpError::Invalid(
            "otp.max_per_hour must be at least 1".into(),
        ));
    }
    Ok(())
}

/// A session id must be given and not absurdly long.
pub(crate) fn check_session(session: &str) -> Result<(), OtpError> {
    if session.trim().is_empty() {
        return Err(OtpError::Invalid("session is empty".into()));
    }
    if session.len() > MAX_SESSION_BYTES {
        return Err(OtpError::Invalid(format!(
            "session is {} bytes long; at most {MAX_SESSION_BYTES} are allowed",
            session.len()
        )));
    }
    Ok(())
}

/// Code lengths from [`MIN_LENGTH`] to [`MAX_LENGTH`] digits.
pub(crate) fn check_length(length: u32) -> Result<(), OtpError> {
    if (MIN_LENGTH..=MAX_LENGTH).contains(&length) {
        Ok(())
    } else {
        Err(OtpError::Invalid(format!(
            "length {length} is out of range; a code has {MIN_LENGTH} to {MAX_LENGTH} digits"
        )))
    }
}

/// TTLs from [`MIN_TTL`] to [`MAX_TTL`].
pub(crate) fn check_ttl(ttl: Duration) -> Result<(), OtpError> {
    if (MIN_TTL..=MAX_TTL).contains(&ttl) {
        Ok(())
    } else {
        Err(OtpError::Invalid(format!(
            "ttl {} is out of range; allowed are {} to {}",
            humantime::format_duration(ttl),
            humantime::format_duration(MIN_TTL),
            humantime::format_duration(MAX_TTL)
        )))
    }
}
