//! What the API shows: a message with its story, an event, the daemon's status.
//!
//! These are the protocol's own types (times as RFC 3339, ids as hex) so the wire format does
//! not change when the store's records do; the daemon maps its data onto them.

mod status;

pub use status::{
    AtRiskMessage, BindState, BindStatus, DaemonStatus, DiskStatus, LaneStatus, LastError,
    OperatorStatus, Outcomes, OverdueMessage, QueueStatus, StatusReport,
};

use crate::api::serde_fmt;
use crate::message::{Kind, Message, MessageId, Millis, State};
use serde::{Deserialize, Serialize};

/// One message and its whole story, for `get`, `cancel` and `khabar show`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageView {
    /// khabar's id.
    #[serde(with = "serde_fmt::message_id")]
    pub id: MessageId,
    /// Upstream's reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// What it is for.
    pub kind: Kind,
    /// The recipient, normalised (E.164 digits without '+').
    pub recipient: String,
    /// The sender, if not the operator default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
    /// The text; absent once erased by retention, and never shown for an OTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The template it was rendered from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// The current state.
    pub state: State,
    /// When it was accepted.
    #[serde(with = "serde_fmt::time")]
    pub created: Millis,
    /// Do not send after this.
    #[serde(
        default,
        with = "serde_fmt::time_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub send_by: Option<Millis>,
    /// The words `send_by` was computed from: upstream's `deadline`, or the kind's default
    /// ("1 working day (notification default)").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_by_rule: Option<String>,
    /// An `otp` held back by its recipient's rolling-hour limit is not sent before this.
    #[serde(
        default,
        with = "serde_fmt::time_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub held_until: Option<Millis>,
    /// No final receipt by then = `receipt_overdue`.
    #[serde(
        default,
        with = "serde_fmt::time_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub receipt_by: Option<Millis>,
    /// For a `request`: the reply window in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_window_s: Option<u64>,
    /// Submit attempts so far.
    pub attempts: u32,
    /// The operator route it went through (last).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    /// One entry per SMS part.
    #[serde(default)]
    pub parts: Vec<PartView>,
    /// Every state it went through, oldest first.
    pub history: Vec<TransitionView>,
    /// Replies (mobile-originated SMS) matched to it, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replies: Vec<ReplyView>,
    /// When `receipt_by` was found passed without a final receipt (the `receipt_overdue`
    /// event).
    #[serde(
        default,
        with = "serde_fmt::time_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub receipt_overdue_at: Option<Millis>,
}

/// A reply matched to a message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyView {
    /// When it came.
    #[serde(with = "serde_fmt::time")]
    pub at: Millis,
    /// What it means: `accept`, `decline` or `other`.
    pub class: crate::replies::ReplyClass,
    /// Its text; absent once erased by retention.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// One SMS part as the operator saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartView {
    /// 1-based part number.
    pub number: u32,
    /// The operator's message id from submit_sm_resp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator_id: Option<String>,
    /// The receipt's `stat:` (DELIVRD, UNDELIV, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<String>,
    /// The receipt's `err:` code, when not zero.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When the receipt came.
    #[serde(
        default,
        with = "serde_fmt::time_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub receipt_at: Option<Millis>,
}

/// One step of the story.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransitionView {
    /// The state entered.
    pub state: State,
    /// When.
    #[serde(with = "serde_fmt::time")]
    pub at: Millis,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl From<&Message> for MessageView {
    /// The full story of a stored message. An OTP's text (it contains the code) is never shown.
    fn from(m: &Message) -> Self {
        MessageView {
            id: m.id,
            reference: m.reference.clone(),
            kind: m.kind,
            recipient: m.recipient.clone(),
            sender: m.sender.clone(),
            text: if m.kind == Kind::Otp {
                None
            } else {
                m.text.clone()
            },
            template: m.extra.template.clone(),
            state: m.state,
            created: m.created,
            send_by: m.send_by,
            send_by_rule: m.extra.deadline_rule.clone(),
            held_until: m.extra.held_until.filter(|_| !m.state.is_final()),
            receipt_by: m.receipt_by,
            reply_window_s: m
                .extra
                .reply_window_ms
                .map(|ms| u64::try_from(ms / 1000).unwrap_or(0)),
            attempts: m.attempts,
            operator: m.operator.clone(),
            parts: (1..)
                .zip(&m.parts)
                .map(|(number, p)| PartView {
                    number,
                    operator_id: p.operator_id.clone(),
                    receipt: p.receipt.clone(),
                    error: p.error.clone(),
                    receipt_at: p.receipt_at,
                })
                .collect(),
            history: m
                .history
                .iter()
                .map(|t| TransitionView {
                    state: t.state,
                    at: t.at,
                    reason: t.reason.clone(),
                })
                .collect(),
            replies: (m.extra.replies.iter())
                .map(|r| ReplyView {
                    at: r.at,
                    class: r.class,
                    text: r.text.clone(),
                })
                .collect(),
            receipt_overdue_at: m.extra.receipt_overdue_at,
        }
    }
}

/// What an event is about.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    /// A message entered a new state (submitted, or a final state: delivered, undeliverable,
    /// expired — including a missed `send_by` —, rejected, cancelled, failed, unknown).
    #[default]
    StateChanged,
    /// A delivery receipt for one part arrived.
    Receipt,
    /// `receipt_by` passed without a final receipt.
    ReceiptOverdue,
    /// A mobile-originated reply, matched to a `request` when possible.
    Reply,
    /// A `request`'s reply window closed unanswered; the follow-up was queued.
    ReplyWindowClosed,
    /// A type this build does not know (sent by a newer daemon).
    #[serde(other)]
    Other,
}

/// One event of the stream. Fields that do not apply to the type are absent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventView {
    /// Position in the event log: increasing, never reused, starting at 1.
    pub seq: u64,
    /// What happened.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// When.
    #[serde(with = "serde_fmt::time")]
    pub at: Millis,
    /// The message it is about.
    #[serde(
        default,
        with = "serde_fmt::message_id_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub message_id: Option<MessageId>,
    /// Upstream's reference of that message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// `state_changed`: the state entered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<State>,
    /// `state_changed`: why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `receipt`: 1-based part number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<u32>,
    /// `receipt`: the receipt's `stat:`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stat: Option<String>,
    /// `receipt`: the receipt's `err:`, when not zero.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `receipt_overdue`: the deadline that passed.
    #[serde(
        default,
        with = "serde_fmt::time_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub receipt_by: Option<Millis>,
    /// `reply`: the sender's number (E.164 digits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// `reply`: the reply's text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// `reply`: what the reply means: `accept`, `decline` or `other`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<crate::replies::ReplyClass>,
    /// `reply_window_closed`: the id of the follow-up notification.
    #[serde(
        default,
        with = "serde_fmt::message_id_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub follow_up_id: Option<MessageId>,
}
