//! The last check on an `otp` message before it is sent: its code must still be its
//! session's code. A newer code for the same session replaces the old one, which would then not
//! verify: it is not sent.

use crate::message::Message;
use crate::otp::{Currency, OtpService};
use std::sync::Arc;

/// What the sending stage does with a message.
pub(super) enum Gate {
    /// Send it.
    Send,
    /// Cancel it (a newer code replaced its code), for this reason.
    Cancel(&'static str),
    /// Reject it, for this reason.
    Reject(&'static str),
    /// Hand it back to the queue for a while, for this reason.
    Later(&'static str),
}

/// Checks `message` (one read of the OTP database). Messages without an issue time (codes
/// queued before it was recorded, texts from `submit`) pass.
pub(super) fn check(otp: Option<&Arc<OtpService>>, message: &Message) -> Gate {
    let (Some(session), Some(issued_at)) =
        (&message.extra.otp_session, message.extra.otp_issued_at)
    else {
        return Gate::Send;
    };
    let Some(otp) = otp else {
        return Gate::Reject("one-time passwords are not enabled in this daemon");
    };
    match otp.current(session, issued_at) {
        Ok(Currency::Current) => Gate::Send,
        Ok(Currency::Replaced) => Gate::Cancel("a newer code was issued for its session"),
        Ok(Currency::Missing) => Gate::Reject("its OTP session is gone (expired and pruned)"),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read an OTP session; the SMS waits");
            Gate::Later("its OTP session cannot be read")
        }
    }
}
