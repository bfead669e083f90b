//! The errors the socket answers with: a stable machine-readable code and a sentence a
//! person understands.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A stable, machine-readable error code. Serialised in snake_case (`"invalid_json"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The line is not valid JSON (or not valid UTF-8).
    InvalidJson,
    /// The `op` names no operation.
    UnknownOp,
    /// The request has the wrong shape: not an object, an ill-typed or unknown field, or
    /// fields that contradict each other. The message (and `field`) names the field.
    InvalidRequest,
    /// A required field is absent. The message (and `field`) names it.
    MissingField,
    /// The line is longer than the server's line-length cap; it was discarded.
    LineTooLong,
    /// A `submit_batch` holds more messages than the server accepts in one batch.
    BatchTooLarge,
    /// The recipient is not a mobile number khabar can send to.
    InvalidNumber,
    /// The number is valid, but no configured operator route serves it.
    NoRoute,
    /// The text is empty.
    EmptyText,
    /// The text needs more SMS parts than allowed.
    TooManyParts,
    /// The `kind` is not one of otp, request, notification, bulk.
    UnknownKind,
    /// A deadline (`send_by`, `receipt_by`, `deadline`) has already passed.
    DeadlineInPast,
    /// A 12-digit IIN/BIN failed its check digit.
    InvalidIin,
    /// The named template does not exist (or lacks the language).
    UnknownTemplate,
    /// The queue is at its configured maximum depth; try again later.
    QueueFull,
    /// Too many requests for this recipient or session; see `retry_after_s`.
    RateLimited,
    /// No message has that id or reference.
    UnknownMessage,
    /// The message was already handed to an operator (or is final) and cannot be cancelled.
    NotCancellable,
    /// The peer's uid/gid is not allowed to use the socket.
    Forbidden,
    /// The server is at its connection cap.
    TooManyConnections,
    /// The client sent nothing for the idle timeout; the connection is closed.
    IdleTimeout,
    /// A request line did not arrive whole within the line timeout; the connection is closed.
    SlowRequest,
    /// The daemon is shutting down; the connection is closed.
    ShuttingDown,
    /// The store could not write: the message was NOT accepted. Safe to retry.
    Unavailable,
    /// A bug or unexpected condition in khabar.
    Internal,
    /// A code this build does not know (sent by a newer daemon).
    #[serde(other)]
    Other,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::UnknownOp => "unknown_op",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::MissingField => "missing_field",
            ErrorCode::LineTooLong => "line_too_long",
            ErrorCode::BatchTooLarge => "batch_too_large",
            ErrorCode::InvalidNumber => "invalid_number",
            ErrorCode::NoRoute => "no_route",
            ErrorCode::EmptyText => "empty_text",
            ErrorCode::TooManyParts => "too_many_parts",
            ErrorCode::UnknownKind => "unknown_kind",
            ErrorCode::DeadlineInPast => "deadline_in_past",
            ErrorCode::InvalidIin => "invalid_iin",
            ErrorCode::UnknownTemplate => "unknown_template",
            ErrorCode::QueueFull => "queue_full",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::UnknownMessage => "unknown_message",
            ErrorCode::NotCancellable => "not_cancellable",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::TooManyConnections => "too_many_connections",
            ErrorCode::IdleTimeout => "idle_timeout",
            ErrorCode::SlowRequest => "slow_request",
            ErrorCode::ShuttingDown => "shutting_down",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
            ErrorCode::Other => "other",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error answer: `{"code":"…","message":"…"}` plus optional details.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    /// The machine-readable code.
    pub code: ErrorCode,
    /// A sentence a person understands.
    pub message: String,
    /// The request field at fault, for `invalid_request`, `missing_field` and friends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For `rate_limited`: seconds until a retry may succeed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_s: Option<u64>,
}

impl ApiError {
    /// An error with a code and a sentence.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            field: None,
            retry_after_s: None,
        }
    }

    /// An error about one request field.
    pub fn field(code: ErrorCode, field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError {
            field: Some(field.into()),
            ..ApiError::new(code, message)
        }
    }

    /// `missing_field` for `field`.
    pub fn missing(field: &str) -> Self {
        ApiError::field(
            ErrorCode::MissingField,
            field,
            format!("the field `{field}` is required"),
        )
    }

    /// `invalid_request` about `field`.
    pub fn invalid(field: &str, why: impl fmt::Display) -> Self {
        ApiError::field(
            ErrorCode::InvalidRequest,
            field,
            format!("the field `{field}` is invalid: {why}"),
        )
    }

    /// `rate_limited`, retry after `secs` seconds.
    pub fn rate_limited(secs: u64) -> Self {
        ApiError {
            retry_after_s: Some(secs),
            ..ApiError::new(
                ErrorCode::RateLimited,
                format!("too many requests; try again in {secs} s"),
            )
        }
    }

    /// `unavailable`: the store failed, so nothing was accepted.
    pub fn unavailable(detail: impl fmt::Display) -> Self {
        ApiError::new(
            ErrorCode::Unavailable,
            format!(
                "the store could not write, so the message was NOT accepted ({detail}); it is safe to retry"
            ),
        )
    }

    /// `internal`: something unexpected inside khabar.
    pub fn internal(detail: impl fmt::Display) -> Self {
        ApiError::new(ErrorCode::Internal, format!("internal error: {detail}"))
    }
}
