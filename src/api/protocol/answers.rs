//! The payloads of successful answers (not subscribers' replies, which are `crate::replies`). On
//! the wire each is merged into the envelope
//! `{"id":…,"ok":true, …payload}`; the client reads them back with the same types.

use crate::api::error::ApiError;
use crate::api::serde_fmt;
use crate::api::views::{EventView, MessageView, StatusReport};
use crate::message::{MessageId, Millis};
use serde::{Deserialize, Serialize};

/// `submit`: the message is on disk under this id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmitOk {
    /// The message's id (for a duplicate: the first message's id).
    #[serde(with = "serde_fmt::message_id")]
    pub message_id: MessageId,
    /// True when the reference was seen before and nothing new was stored.
    pub duplicate: bool,
}

/// One item of a `submit_batch` reply: an id, or an error for that item alone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchItem {
    /// Whether this item was accepted (or was a duplicate).
    pub ok: bool,
    /// The id, when `ok`.
    #[serde(
        default,
        with = "serde_fmt::message_id_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub message_id: Option<MessageId>,
    /// Whether it was a duplicate, when `ok`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate: Option<bool>,
    /// Why it was refused, when not `ok`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
}

impl From<Result<SubmitOk, ApiError>> for BatchItem {
    fn from(result: Result<SubmitOk, ApiError>) -> Self {
        match result {
            Ok(ok) => BatchItem {
                ok: true,
                message_id: Some(ok.message_id),
                duplicate: Some(ok.duplicate),
                error: None,
            },
            Err(e) => BatchItem {
                ok: false,
                message_id: None,
                duplicate: None,
                error: Some(e),
            },
        }
    }
}

impl BatchItem {
    /// Back to a `Result`; an `ok` item without an id counts as an internal error.
    pub fn into_result(self) -> Result<SubmitOk, ApiError> {
        match (self.ok, self.message_id, self.error) {
            (true, Some(message_id), _) => Ok(SubmitOk {
                message_id,
                duplicate: self.duplicate.unwrap_or(false),
            }),
            (false, _, Some(e)) => Err(e),
            _ => Err(ApiError::internal(
                "a batch item carries neither id nor error",
            )),
        }
    }
}

/// `submit_batch`: one item per message, in order, with totals.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchAnswer {
    /// Items newly stored.
    pub accepted: usize,
    /// Items whose reference was already known.
    pub duplicates: usize,
    /// Items refused.
    pub rejected: usize,
    /// Per item, in the order sent.
    pub results: Vec<BatchItem>,
}

impl BatchAnswer {
    /// Counts and wraps per-item results.
    pub fn from_results(results: Vec<Result<SubmitOk, ApiError>>) -> Self {
        let mut reply = BatchAnswer {
            accepted: 0,
            duplicates: 0,
            rejected: 0,
            results: Vec::with_capacity(results.len()),
        };
        for r in results {
            match &r {
                Ok(ok) if ok.duplicate => reply.duplicates += 1,
                Ok(_) => reply.accepted += 1,
                Err(_) => reply.rejected += 1,
            }
            reply.results.push(r.into());
        }
        reply
    }
}

/// `get` and `cancel`: the message as it is now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageAnswer {
    /// The message with its history.
    pub message: MessageView,
}

/// `status`: everything `khabar status` shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatusAnswer {
    /// The report.
    pub status: StatusReport,
}

/// `subscribe`: the stream starts; event lines follow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscribed {
    /// The durable cursor, if one was named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// The seq of the first event that will be sent (it may not exist yet).
    pub from: u64,
}

/// `ack`: the cursor now stands at `seq`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acked {
    /// The cursor.
    pub cursor: String,
    /// The acknowledged seq.
    pub seq: u64,
}

/// `otp_send`: the code's SMS is queued.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtpSent {
    /// The id of the SMS carrying the code.
    #[serde(with = "serde_fmt::message_id")]
    pub message_id: MessageId,
    /// When the code stops being valid.
    #[serde(with = "serde_fmt::time")]
    pub expires_at: Millis,
}

/// The outcome of `otp_verify`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OtpResult {
    /// The code is right; the session's code is now used up.
    Ok,
    /// The code is wrong; see `attempts_left`.
    WrongCode,
    /// The code was right too late, or the session's code has expired.
    Expired,
    /// The session's code was already used.
    AlreadyUsed,
    /// Too many wrong codes; the session's code is void.
    TooManyAttempts,
    /// No code was sent for that session.
    UnknownSession,
    /// A result this build does not know.
    #[serde(other)]
    Other,
}

/// `otp_verify`: the verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtpVerdict {
    /// What the code was.
    pub result: OtpResult,
    /// For `wrong_code`: attempts still allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts_left: Option<u32>,
}

/// `ping`: the daemon answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pong {
    /// The daemon's version.
    pub version: String,
}

/// One event line of a subscription: `{"event":{…}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventLine {
    /// The event.
    pub event: EventView,
}
