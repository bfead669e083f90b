//! Events for upstream subscribers: state changes, receipts, replies and missed deadlines.
//! They are appended to the store's log in the same atomic write as the change that caused
//! them, so a subscriber that reconnects from its cursor misses nothing.

use crate::message::{Kind, MessageId, Millis, State};
use serde::{Deserialize, Serialize};

/// Something upstream should hear about. Serialises as JSON with an `event` tag, e.g.
/// `{"event":"state_changed","id":"…","state":"delivered",…}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A message entered a new state (submitted, or any final state incl. `expired`).
    StateChanged {
        /// The message.
        id: MessageId,
        /// Upstream's reference, if it gave one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        /// The state entered.
        state: State,
        /// The message's kind (absent in events stored before it was recorded).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        kind: Option<Kind>,
        /// Why.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// When.
        at: Millis,
    },
    /// A delivery receipt for one part came in.
    Receipt {
        /// The message.
        id: MessageId,
        /// Upstream's reference, if it gave one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        /// The part index (0-based).
        part: u32,
        /// The receipt's `stat:` (DELIVRD, UNDELIV, ...).
        stat: String,
        /// The receipt's `err:` code, when not zero.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// When it came.
        at: Millis,
    },
    /// `receipt_by` passed without a final receipt.
    ReceiptOverdue {
        /// The message.
        id: MessageId,
        /// Upstream's reference, if it gave one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        /// The deadline that passed.
        receipt_by: Millis,
        /// When the watcher noticed.
        at: Millis,
    },
    /// A mobile-originated message (a reply), matched to a message when possible.
    Reply {
        /// The message it answers, if matched.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<MessageId>,
        /// Upstream's reference of that message.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        /// What the reply means (absent on replies stored before they were classified).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        class: Option<crate::replies::ReplyClass>,
        /// The sender's number (normalised E.164 digits).
        from: String,
        /// The reply's text.
        text: String,
        /// When it came.
        at: Millis,
    },
    /// A `request`'s reply window closed unanswered: the request is cancelled (no reply) and
    /// its follow-up notification was queued.
    ReplyWindowClosed {
        /// The request.
        id: MessageId,
        /// Upstream's reference of the request, if it gave one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        /// The follow-up notification, a `notification` message of its own.
        follow_up_id: MessageId,
        /// When the closing was noticed.
        at: Millis,
    },
}

impl Event {
    /// The time of the event.
    pub fn at(&self) -> Millis {
        match self {
            Event::StateChanged { at, .. }
            | Event::Receipt { at, .. }
            | Event::ReceiptOverdue { at, .. }
            | Event::Reply { at, .. }
            | Event::ReplyWindowClosed { at, .. } => *at,
        }
    }
}

/// An event with its position in the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredEvent {
    /// Position in the log (increasing, never reused).
    pub seq: u64,
    /// The event.
    #[serde(flatten)]
    pub event: Event,
}
