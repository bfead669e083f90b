//! The requests other than `submit`: message lookups, the event cursor and one-time passwords.

use super::fields::Fields;
use super::submit::Language;
use crate::api::error::ApiError;
use crate::api::serde_fmt::parse_duration;
use crate::message::MessageId;
use std::fmt;
use std::time::Duration;

/// Longest accepted cursor name, in bytes.
pub const MAX_CURSOR_BYTES: usize = 64;

/// Which message a `get` or `cancel` is about.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MessageRef {
    /// By khabar's id.
    Id(MessageId),
    /// By upstream's reference.
    Reference(String),
}

impl MessageRef {
    /// Reads `message_id` or `reference` (exactly one).
    pub(crate) fn parse(f: &mut Fields) -> Result<Self, ApiError> {
        let id: Option<String> = f.take("message_id")?;
        let reference = f.take_nonblank("reference")?;
        match (id, reference) {
            (Some(_), Some(_)) => Err(ApiError::invalid(
                "reference",
                "give either `message_id` or `reference`, not both",
            )),
            (Some(id), None) => id
                .parse()
                .map(MessageRef::Id)
                .map_err(|e| ApiError::invalid("message_id", e)),
            (None, Some(r)) => Ok(MessageRef::Reference(r)),
            (None, None) => Err(ApiError::missing("message_id")),
        }
    }
}

impl fmt::Display for MessageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MessageRef::Id(id) => write!(f, "message {id}"),
            MessageRef::Reference(r) => write!(f, "reference {r:?}"),
        }
    }
}

/// `subscribe`: stream events from a durable cursor (or, without one, from now).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscribeRequest {
    /// The durable cursor's name; None = a live tail that cannot ack.
    pub cursor: Option<String>,
    /// Start at this event seq instead of after the cursor's last ack.
    pub from: Option<u64>,
}

impl SubscribeRequest {
    /// Reads `cursor` and `from`.
    pub(crate) fn parse(f: &mut Fields) -> Result<Self, ApiError> {
        let cursor = f
            .take_nonblank("cursor")?
            .map(|c| check_cursor(&c).map(|()| c))
            .transpose()?;
        Ok(SubscribeRequest {
            cursor,
            from: f.take("from")?,
        })
    }
}

/// `ack`: the client has processed every event up to and including `seq`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AckRequest {
    /// The durable cursor's name.
    pub cursor: String,
    /// The last event seq processed.
    pub seq: u64,
}

impl AckRequest {
    /// Reads `cursor` and `seq`.
    pub(crate) fn parse(f: &mut Fields) -> Result<Self, ApiError> {
        let cursor = f.require_nonblank("cursor")?;
        check_cursor(&cursor)?;
        Ok(AckRequest {
            cursor,
            seq: f.require("seq")?,
        })
    }
}

/// Cursor names are short and printable so they can be typed and logged.
fn check_cursor(name: &str) -> Result<(), ApiError> {
    let ok = name.len() <= MAX_CURSOR_BYTES
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "cursor",
            format!("use up to {MAX_CURSOR_BYTES} letters, digits, '-', '_', '.' or ':'"),
        ))
    }
}

/// `otp_send`: send a one-time password for an identification session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtpSendRequest {
    /// The recipient as given.
    pub to: String,
    /// The caller's identification-session id; the code is valid for this session only.
    pub session: String,
    /// What the code is for, shown in the SMS (e.g. "registration").
    pub purpose: Option<String>,
    /// Number of digits; None = the configured default.
    pub length: Option<u32>,
    /// How long the code stays valid; None = the configured default.
    pub ttl: Option<Duration>,
    /// The SMS language; None = the configured default.
    pub language: Option<Language>,
}

impl OtpSendRequest {
    /// Reads the `otp_send` fields.
    pub(crate) fn parse(f: &mut Fields) -> Result<Self, ApiError> {
        Ok(OtpSendRequest {
            to: f.require("to")?,
            session: f.require_nonblank("session")?,
            purpose: f.take_nonblank("purpose")?,
            length: f.take("length")?,
            ttl: f
                .take_raw("ttl")
                .map(|v| parse_duration(&v).map_err(|e| ApiError::invalid("ttl", e)))
                .transpose()?,
            language: f.take("language")?,
        })
    }
}

/// `otp_verify`: check a code the person typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtpVerifyRequest {
    /// The identification session the code was sent for.
    pub session: String,
    /// The code as typed (a string: codes may start with 0).
    pub code: String,
}

impl OtpVerifyRequest {
    /// Reads the `otp_verify` fields.
    pub(crate) fn parse(f: &mut Fields) -> Result<Self, ApiError> {
        Ok(OtpVerifyRequest {
            session: f.require_nonblank("session")?,
            code: f.require("code")?,
        })
    }
}
