//! `otp_send` and `otp_verify`: the code is issued by the OTP service, put into the `otp`
//! template and queued as an `otp` message that is never sent after the code expires. The
//! code itself is never logged, returned or kept anywhere but in the queued SMS text.
//! The message carries the code's issue time, so that a code a newer one replaced before it
//! went out is not sent ([`crate::otp::OtpService::current`]).

use super::GatewayBackend;
use super::checks::template_language;
use super::errors::{not_accepted, task_failed};
use crate::api::error::{ApiError, ErrorCode};
use crate::api::protocol::{OtpSendRequest, OtpSent, OtpVerdict, OtpVerifyRequest};
use crate::log_gate::{Repeated, note};
use crate::message::{Extra, Kind, NewMessage, now_ms};
use crate::otp::{IssuedCode, OtpError, OtpService};
use std::collections::BTreeMap;
use std::sync::Arc;

const QUEUED: Repeated = Repeated::info("one-time password queued");

/// The template an OTP's text is rendered from; its field `code` holds the digits.
const OTP_TEMPLATE: &str = "otp";

/// An OTP service failure as the socket reports it.
fn otp_error(error: OtpError) -> ApiError {
    match error {
        OtpError::RateLimited { retry_after_s } => ApiError::rate_limited(retry_after_s),
        OtpError::Invalid(why) => ApiError::new(ErrorCode::InvalidRequest, why),
        OtpError::Storage(why) => {
            tracing::warn!(error = %why, "the OTP store failed");
            ApiError::new(
                ErrorCode::Unavailable,
                format!("the one-time password store failed ({why}); try again"),
            )
        }
    }
}

impl GatewayBackend {
    /// The OTP service, or `unavailable` when the daemon runs without one.
    fn otp_service(&self) -> Result<Arc<OtpService>, ApiError> {
        self.parts.otp.clone().ok_or_else(|| {
            ApiError::new(
                ErrorCode::Unavailable,
                "one-time passwords are not enabled in this daemon",
            )
        })
    }

    /// `otp_send`.
    pub(super) async fn send_otp(&self, request: OtpSendRequest) -> Result<OtpSent, ApiError> {
        let service = self.otp_service()?;
        let number = self.recipient(&request.to, "to")?;
        let room = self.reserve(1);
        if room.granted == 0 {
            return Err(self.queue_full(room.depth));
        }
        let now = now_ms();
        let (session, to) = (request.session.clone(), number.clone());
        let (length, ttl) = (request.length, request.ttl);
        let issuer = service.clone();
        let IssuedCode {
            code,
            issued_at,
            expires_at,
        } = tokio::task::spawn_blocking(move || issuer.issue(&session, &to, length, ttl, now))
            .await
            .map_err(task_failed)?
            .map_err(otp_error)?;

        let language = template_language(request.language.unwrap_or(self.parts.otp_language));
        let mut fields = BTreeMap::from([("code".to_owned(), code)]);
        if let Some(purpose) = request.purpose {
            fields.insert("purpose".to_owned(), purpose);
        }
        let text = self
            .parts
            .templates
            .render(OTP_TEMPLATE, language, &fields)
            .map_err(|e| ApiError::internal(format!("the `otp` template cannot be used: {e}")))?;
        drop(fields);
        self.check_fits(&text, "purpose")?;
        // the text carries the code: it goes to the store sealed, opened only to be sent
        let text = service
            .seal_text(&text)
            .map_err(|e| ApiError::internal(format!("cannot seal the OTP text: {e}")))?;

        let mut message = NewMessage {
            reference: None,
            kind: Kind::Otp,
            recipient: number.as_str().to_owned(),
            sender: None,
            text,
            send_by: None,
            receipt_by: Some(expires_at),
            extra: Extra {
                otp_session: Some(request.session),
                otp_issued_at: Some(issued_at),
                ..Extra::default()
            },
        };
        self.parts.scheduler.prepare(&mut message, now);
        // a code is never sent after it stops being valid
        message.send_by = Some(message.send_by.map_or(expires_at, |s| s.min(expires_at)));
        let accepted = self
            .store()
            .accept(message)
            .await
            .map_err(|e| not_accepted(&e))?;
        drop(room);
        self.accepted(&[&accepted], now);
        let id = accepted.id;
        note(
            &QUEUED,
            || tracing::info!(%id, to = %number.masked(), "{}", QUEUED.what),
        );
        Ok(OtpSent {
            message_id: accepted.id,
            expires_at,
        })
    }

    /// `otp_verify`.
    pub(super) async fn verify_otp(
        &self,
        request: OtpVerifyRequest,
    ) -> Result<OtpVerdict, ApiError> {
        let service = self.otp_service()?;
        let now = now_ms();
        // the service logs the verdict (never the code or the session id)
        tokio::task::spawn_blocking(move || service.verify(&request.session, &request.code, now))
            .await
            .map_err(task_failed)?
            .map_err(otp_error)
    }
}
