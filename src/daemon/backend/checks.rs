//! The checks a submit passes before it is stored: a mobile number with a route, a text (or
//! rendered template) that fits the allowed SMS parts, deadlines still ahead. The message is
//! then given its kind's default deadlines.

use super::GatewayBackend;
use crate::api::error::{ApiError, ErrorCode};
use crate::api::protocol::{Content, Language, SubmitRequest};
use crate::calendar::parse_deadline_expr;
use crate::encoding::{self, EncodingError};
use crate::message::{Extra, Millis, NewMessage};
use crate::number::{self, Msisdn};
use crate::templates::{self, TemplateError};
use chrono::{DateTime, SecondsFormat};

/// The template language for a protocol language.
pub(super) fn template_language(language: Language) -> templates::Language {
    match language {
        Language::Kk => templates::Language::Kk,
        Language::Ru => templates::Language::Ru,
    }
}

/// A time for error messages (RFC 3339, UTC).
fn rfc3339(at: Millis) -> String {
    DateTime::from_timestamp_millis(at).map_or_else(
        || format!("{at} ms"),
        |t| t.to_rfc3339_opts(SecondsFormat::Secs, true),
    )
}

impl GatewayBackend {
    /// Normalises a recipient and checks that an operator route serves it.
    pub(super) fn recipient(&self, to: &str, field: &str) -> Result<Msisdn, ApiError> {
        let number = match number::normalize(to) {
            Ok(number) => number,
            Err(why) => match number::normalize_any(to) {
                // another country's number: only sendable through a configured default route
                Ok(number) if self.parts.router.route(&number).is_some() => number,
                _ => {
                    return Err(ApiError::field(
                        ErrorCode::InvalidNumber,
                        field,
                        format!("the recipient is not a mobile number khabar can send to: {why}"),
                    ));
                }
            },
        };
        self.parts
            .router
            .require_route(&number)
            .map_err(|e| ApiError::field(ErrorCode::NoRoute, field, e.to_string()))?;
        Ok(number)
    }

    /// Checks that a text can be sent by SMS within the configured number of parts.
    pub(super) fn check_fits(&self, text: &str, field: &str) -> Result<(), ApiError> {
        match encoding::plan(text, &self.parts.encoding) {
            Ok(_) => Ok(()),
            Err(EncodingError::Empty) => Err(ApiError::field(
                ErrorCode::EmptyText,
                field,
                "the text is empty; there is nothing to send",
            )),
            Err(e @ EncodingError::TooManyParts { .. }) => Err(ApiError::field(
                ErrorCode::TooManyParts,
                field,
                e.to_string(),
            )),
            Err(e) => Err(ApiError::field(
                ErrorCode::InvalidRequest,
                field,
                e.to_string(),
            )),
        }
    }

    /// The text to send and the template it came from.
    fn render(
        &self,
        content: &Content,
        prefix: &str,
    ) -> Result<(String, Option<String>), ApiError> {
        let (name, fields, language) = match content {
            Content::Text(text) => {
                self.check_fits(text, &format!("{prefix}text"))?;
                return Ok((text.clone(), None));
            }
            Content::Template {
                name,
                fields,
                language,
            } => (name, fields, language),
        };
        let language = template_language(language.unwrap_or(Language::Kk));
        let text = self
            .parts
            .templates
            .render(name, language, fields)
            .map_err(|e| template_error(e, prefix))?;
        self.check_fits(&text, &format!("{prefix}template"))?;
        Ok((text, Some(name.clone())))
    }

    /// `send_by` from the request's `deadline` expression or RFC 3339 time.
    fn send_by(
        &self,
        request: &SubmitRequest,
        now: Millis,
        prefix: &str,
    ) -> Result<Option<Millis>, ApiError> {
        let Some(expr) = &request.deadline else {
            return future(request.send_by, now, &format!("{prefix}send_by"));
        };
        let field = format!("{prefix}deadline");
        let parsed = parse_deadline_expr(expr)
            .map_err(|e| ApiError::field(ErrorCode::InvalidRequest, &field, e.to_string()))?;
        let at = self.parts.calendar.resolve(&parsed, now);
        if at <= now {
            return Err(ApiError::field(
                ErrorCode::DeadlineInPast,
                &field,
                format!("the deadline {expr:?} ({}) has already passed", rfc3339(at)),
            ));
        }
        Ok(Some(at))
    }

    /// Checks one request and builds the message to store, with its kind's default deadlines
    /// filled in. `prefix` goes before field names in errors (`messages[3].`).
    pub(super) fn check(
        &self,
        request: SubmitRequest,
        now: Millis,
        prefix: &str,
    ) -> Result<NewMessage, ApiError> {
        let recipient = self.recipient(&request.to, &format!("{prefix}to"))?;
        let (text, template) = self.render(&request.content, prefix)?;
        let send_by = self.send_by(&request, now, prefix)?;
        let deadline_rule = request.deadline.clone();
        let receipt_by = future(request.receipt_by, now, &format!("{prefix}receipt_by"))?;
        let reply_window_ms = match request.reply_window {
            None => None,
            Some(window) if window.is_zero() => {
                return Err(ApiError::invalid(
                    &format!("{prefix}reply_window"),
                    "a reply window must be longer than zero",
                ));
            }
            Some(window) => Some(Millis::try_from(window.as_millis()).unwrap_or(Millis::MAX)),
        };
        if let Some(follow_up) = &request.follow_up_text {
            self.check_fits(follow_up, &format!("{prefix}follow_up_text"))?;
        }
        let mut message = NewMessage {
            reference: request.reference,
            kind: request.kind,
            recipient: recipient.into(),
            sender: request.sender,
            text,
            send_by,
            receipt_by,
            extra: Extra {
                reply_window_ms,
                follow_up_text: request.follow_up_text,
                otp_session: None,
                template,
                deadline_rule,
                ..Extra::default()
            },
        };
        self.parts.scheduler.prepare(&mut message, now);
        // a default receipt deadline never falls before the send deadline upstream chose
        if receipt_by.is_none()
            && let (Some(send), Some(receipt)) = (message.send_by, message.receipt_by)
            && receipt < send
        {
            message.receipt_by = Some(send);
        }
        Ok(message)
    }
}

/// An optional upstream time that must still lie in the future.
fn future(at: Option<Millis>, now: Millis, field: &str) -> Result<Option<Millis>, ApiError> {
    match at {
        Some(at) if at <= now => Err(ApiError::field(
            ErrorCode::DeadlineInPast,
            field,
            format!("`{field}` ({}) has already passed", rfc3339(at)),
        )),
        other => Ok(other),
    }
}

/// A template that cannot be rendered, as the socket reports it.
fn template_error(error: TemplateError, prefix: &str) -> ApiError {
    let message = error.to_string();
    match error {
        TemplateError::UnknownTemplate { .. } => ApiError::field(
            ErrorCode::UnknownTemplate,
            format!("{prefix}template"),
            message,
        ),
        TemplateError::MissingField { field, .. } => ApiError::field(
            ErrorCode::MissingField,
            format!("{prefix}fields.{field}"),
            message,
        ),
        TemplateError::InvalidIin { field, .. } => ApiError::field(
            ErrorCode::InvalidIin,
            format!("{prefix}fields.{field}"),
            message,
        ),
        // templates are checked when loaded, so these mean a bug
        TemplateError::UnknownPlaceholder { .. } | TemplateError::Syntax { .. } => {
            ApiError::internal(message)
        }
    }
}
