//! One open request as stored.

use super::RequestError;
use crate::message::{MessageId, Millis};
use serde::{Deserialize, Serialize};

/// A request sent to a recipient and awaiting (or having had) a reply within its window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenRequest {
    /// The request message.
    pub id: MessageId,
    /// The recipient's E.164 digits (replies from this number are matched to it).
    pub recipient: String,
    /// How long a reply is awaited, from `opened_at`.
    pub window_ms: i64,
    /// The follow-up notification's text, if the request named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_up: Option<String>,
    /// Where the window starts: the submission, then the delivery receipt when it comes.
    pub opened_at: Millis,
    /// When a reply answered it (an answered request is never due).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_at: Option<Millis>,
}

impl OpenRequest {
    /// The first instant a reply no longer counts: `opened_at + window_ms`.
    pub fn closes_at(&self) -> Millis {
        self.opened_at.saturating_add(self.window_ms.max(0))
    }

    /// True while a reply at `now` still answers it.
    pub fn is_open_at(&self, now: Millis) -> bool {
        self.answered_at.is_none() && now < self.closes_at()
    }

    /// The stored bytes (MessagePack with field names, so fields can be added later).
    pub(super) fn encode(&self) -> Result<Vec<u8>, RequestError> {
        rmp_serde::to_vec_named(self)
            .map_err(|e| RequestError::Storage(format!("cannot encode a request: {e}")))
    }

    /// Reads stored bytes back.
    pub(super) fn decode(bytes: &[u8]) -> Result<Self, RequestError> {
        rmp_serde::from_slice(bytes)
            .map_err(|e| RequestError::Storage(format!("a request record is unreadable: {e}")))
    }
}
