//! The last check on an `otp` message before it is sent: its code must be on disk and still
//! be its session's code. `otp_send` flushes the session beside the store's commit of the
//! message, so after a crash a message may outlive its session; and a newer code for the same
//! session replaces the old one. Either way the old code would not verify: it is not sent.

use crate::message::Message;
use crate::otp::{Currency, OtpService};
use std::sync::Arc;

/// What the sending stage does with a message.
pub(super) enum Gate {
    /// Send it.
    Send,
    /// Reject it, for this reason.
    Reject(&'static str),
    /// Hand it back to the queue for a while, for this reason.
    Later(&'static str),
}

/// Checks `message`. Messages without an issue time (codes queued before it was recorded,
/// texts from `submit`) pass.
pub(super) async fn check(otp: Option<&Arc<OtpService>>, message: &Message) -> Gate {
    let (Some(session), Some(issued_at)) =
        (&message.extra.otp_session, message.extra.otp_issued_at)
    else {
        return Gate::Send;
    };
    let Some(otp) = otp else {
        return Gate::Reject("one-time passwords are not enabled in this daemon");
    };
    let currency = if otp.is_unflushed(session) {
        // waits for the flush `otp_send` runs beside the store's commit (or flushes)
        let (otp, session) = (otp.clone(), session.clone());
        tokio::task::spawn_blocking(move || {
            otp.make_durable(&session)?;
            otp.current(&session, issued_at)
        })
        .await
        .unwrap_or_else(|e| Err(crate::otp::OtpError::Storage(e.to_string())))
    } else {
        otp.current(session, issued_at)
    };
    match currency {
        Ok(Currency::Current) => Gate::Send,
        Ok(Currency::Replaced) => Gate::Reject("a newer code was issued for its session"),
        Ok(Currency::Missing) => Gate::Reject("its OTP session was lost before it was kept"),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read an OTP session; the SMS waits");
            Gate::Later("its OTP session cannot be read")
        }
    }
}
