//! The message and its life: the domain types every stage of the data path shares.
//!
//! Times are unix milliseconds (`Millis`) so records are compact and compare cheaply; the CLI
//! renders them in Asia/Almaty.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Unix time in milliseconds.
pub type Millis = i64;

/// The current wall-clock time in unix milliseconds.
pub fn now_ms() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}

/// A duration in milliseconds, saturating (a configured "forever" stays far in the future).
pub fn millis(d: std::time::Duration) -> Millis {
    d.as_millis().min(Millis::MAX as u128) as Millis
}

/// A message id: unique, and sortable by creation time (milliseconds in the high bits, a
/// per-millisecond counter in the low 22 bits). Shown as 16 lowercase hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MessageId(pub u64);

impl MessageId {
    /// Bits reserved for the per-millisecond counter.
    pub const COUNTER_BITS: u32 = 22;

    /// Builds an id from a creation time and a counter within that millisecond.
    pub fn from_parts(ms: Millis, counter: u64) -> Self {
        MessageId(((ms as u64) << Self::COUNTER_BITS) | (counter & ((1 << Self::COUNTER_BITS) - 1)))
    }

    /// The creation time encoded in the id.
    pub fn created_ms(self) -> Millis {
        (self.0 >> Self::COUNTER_BITS) as Millis
    }

    /// Big-endian bytes, so that byte order equals id order in the store's keys.
    pub fn to_be_bytes(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl FromStr for MessageId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 16 {
            return Err(format!("a message id is 16 hex digits, got {s:?}"));
        }
        u64::from_str_radix(s, 16)
            .map(MessageId)
            .map_err(|_| format!("a message id is 16 hex digits, got {s:?}"))
    }
}

/// What a message is for; decides its lane, priority and default deadlines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// One-time password: highest priority, never sent late.
    Otp,
    /// Proactive-service request awaiting a reply within its window.
    Request,
    /// A notification, due within one working day by default.
    Notification,
    /// Bulk traffic: no deadline, fills spare capacity.
    Bulk,
}

impl Kind {
    /// Every kind, highest priority first (also the lane order).
    pub const ALL: [Kind; 4] = [Kind::Otp, Kind::Request, Kind::Notification, Kind::Bulk];

    /// The lane number, 0 = served first.
    pub fn lane(self) -> u8 {
        self as u8
    }

    /// The kind served by a lane number.
    pub fn from_lane(lane: u8) -> Option<Kind> {
        Kind::ALL.get(lane as usize).copied()
    }

    /// The name used in config, the socket protocol and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Otp => "otp",
            Kind::Request => "request",
            Kind::Notification => "notification",
            Kind::Bulk => "bulk",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!("unknown kind {s:?}: expected otp, request, notification or bulk")
            })
    }
}

/// Where a message is in its life. See "Message life" in DESIGN.md.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Waiting in its lane for its due time.
    Queued,
    /// Handed to a session; no submit_sm_resp seen yet for every part.
    Submitting,
    /// Every part acknowledged by the operator; waiting for receipts.
    Submitted,
    /// Every part delivered (final).
    Delivered,
    /// The operator reported a part undeliverable, rejected or deleted (final).
    Undeliverable,
    /// Not sent before `send_by`, or the operator reported it expired (final).
    Expired,
    /// Refused by the operator with a permanent error at submit time (final).
    Rejected,
    /// Cancelled by upstream (an OTP also when a newer code for its session replaced it before
    /// it went out), or a request whose reply window closed (final).
    Cancelled,
    /// Permanent failure, e.g. too many attempts (final).
    Failed,
    /// No final receipt even after the final receipt timeout (final).
    Unknown,
}

impl State {
    /// Every state, in the order of a message's life.
    pub const ALL: [State; 10] = [
        State::Queued,
        State::Submitting,
        State::Submitted,
        State::Delivered,
        State::Undeliverable,
        State::Expired,
        State::Rejected,
        State::Cancelled,
        State::Failed,
        State::Unknown,
    ];

    /// True for states a message never leaves.
    pub fn is_final(self) -> bool {
        !matches!(self, State::Queued | State::Submitting | State::Submitted)
    }

    /// The name used in the protocol and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Submitting => "submitting",
            State::Submitted => "submitted",
            State::Delivered => "delivered",
            State::Undeliverable => "undeliverable",
            State::Expired => "expired",
            State::Rejected => "rejected",
            State::Cancelled => "cancelled",
            State::Failed => "failed",
            State::Unknown => "unknown",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for State {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        State::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| format!("unknown state {s:?}"))
    }
}

/// One step of a message's story.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    /// The state entered.
    pub state: State,
    /// When it was entered.
    pub at: Millis,
    /// Why, in words (operator status name, receipt stat, "no_reply", ...).
    #[serde(default)]
    pub reason: Option<String>,
}

/// The operator's view of one SMS part of a message.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    /// The message_id from submit_sm_resp, once acknowledged.
    #[serde(default)]
    pub operator_id: Option<String>,
    /// The receipt's `stat:` (DELIVRD, UNDELIV, ...), once a receipt came.
    #[serde(default)]
    pub receipt: Option<String>,
    /// The receipt's `err:` code, when not zero.
    #[serde(default)]
    pub error: Option<String>,
    /// When the receipt came.
    #[serde(default)]
    pub receipt_at: Option<Millis>,
}

/// Kind-specific data that travels with a message (OTP session, request window, template).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extra {
    /// Reply window of a `request`, in milliseconds from its receipt (else its submission).
    #[serde(default)]
    pub reply_window_ms: Option<i64>,
    /// Text of the notification sent when a request's window closes unanswered.
    #[serde(default)]
    pub follow_up_text: Option<String>,
    /// The caller's identification-session id of an `otp` message.
    #[serde(default)]
    pub otp_session: Option<String>,
    /// Name of the template the text was rendered from.
    #[serde(default)]
    pub template: Option<String>,
    /// The words `send_by` was computed from: upstream's `deadline` ("the 27th") or the
    /// kind's default ("1 working day (notification default)"); None when upstream gave the
    /// instant itself or there is none. (Last in the struct: older records lack it.)
    #[serde(default)]
    pub deadline_rule: Option<String>,
    /// An `otp` held back by the per-recipient limit is not sent before this (its place in
    /// the rolling hour). (Last in the struct: older records lack it.)
    #[serde(default)]
    pub held_until: Option<Millis>,
    /// Replies (mobile-originated SMS) matched to it, oldest first, at most
    /// [`REPLIES_KEPT`]. (Last in the struct: older records lack it.)
    #[serde(default)]
    pub replies: Vec<ReplySeen>,
    /// When the deadline watcher found `receipt_by` passed without a final receipt.
    /// (Last in the struct: older records lack it.)
    #[serde(default)]
    pub receipt_overdue_at: Option<Millis>,
    /// When a submitted message without a final receipt becomes `unknown` (the final
    /// receipt timeout, set at submission). (Last in the struct: older records lack it.)
    #[serde(default)]
    pub give_up_at: Option<Millis>,
    /// When the code of an `otp` message was issued: the sending stage sends it only while its
    /// session still holds that code. (Last in the struct: older records lack it.)
    #[serde(default)]
    pub otp_issued_at: Option<Millis>,
}

/// Replies kept on one message: a request is answered once; a few more show a person who
/// kept writing without growing the record without bound.
pub const REPLIES_KEPT: usize = 5;

/// A reply matched to a message, as its story tells it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplySeen {
    /// When it came.
    pub at: Millis,
    /// What it means.
    pub class: crate::replies::ReplyClass,
    /// Its text; erased with the message's text by retention.
    pub text: Option<String>,
}

/// A message as upstream hands it over, already validated and normalised.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewMessage {
    /// Upstream's idempotency key.
    pub reference: Option<String>,
    /// What the message is for.
    pub kind: Kind,
    /// Normalised recipient: E.164 digits without '+', e.g. "77011234567".
    pub recipient: String,
    /// Sender (alphanumeric or short code); None = the operator's configured default.
    pub sender: Option<String>,
    /// The text to send.
    pub text: String,
    /// After this, never send: the message expires.
    pub send_by: Option<Millis>,
    /// After this with no final receipt: a `receipt_overdue` event.
    pub receipt_by: Option<Millis>,
    /// Kind-specific data.
    pub extra: Extra,
}

/// A stored message record: the whole state of one message. The store writes it (with its
/// `Part`s, `Transition`s and `Extra`) by field position (`store::codec`): add fields only at
/// the end, with `#[serde(default)]`, and never skip one when serialising.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Sortable unique id.
    pub id: MessageId,
    /// Upstream's idempotency key.
    pub reference: Option<String>,
    /// What the message is for.
    pub kind: Kind,
    /// Normalised recipient (E.164 digits without '+').
    pub recipient: String,
    /// Sender, if not the operator default.
    pub sender: Option<String>,
    /// The text; None once erased by retention (or after an OTP is final).
    pub text: Option<String>,
    /// When it was accepted.
    pub created: Millis,
    /// After this, never send.
    pub send_by: Option<Millis>,
    /// After this with no final receipt: `receipt_overdue`.
    pub receipt_by: Option<Millis>,
    /// Submit attempts so far.
    pub attempts: u32,
    /// Earliest time of the next attempt.
    pub next_try: Millis,
    /// Current state (also the last entry of `history`).
    pub state: State,
    /// The operator route it was (last) sent through.
    pub operator: Option<String>,
    /// One entry per SMS part once the text is split.
    pub parts: Vec<Part>,
    /// Every state it went through, oldest first.
    pub history: Vec<Transition>,
    /// Kind-specific data.
    pub extra: Extra,
    /// The concatenation reference its parts carry, once the operator acknowledged one of
    /// them (a resend of the other parts must carry the same).
    #[serde(default)]
    pub concat_ref: Option<u16>,
}

impl Message {
    /// A message just accepted with `id`: queued, due now, its story begun.
    pub fn accepted(id: MessageId, new: NewMessage, now: Millis) -> Message {
        Message {
            id,
            reference: new.reference,
            kind: new.kind,
            recipient: new.recipient,
            sender: new.sender,
            text: Some(new.text),
            created: now,
            send_by: new.send_by,
            receipt_by: new.receipt_by,
            attempts: 0,
            next_try: now,
            state: State::Queued,
            operator: None,
            parts: Vec::new(),
            history: vec![Transition {
                state: State::Queued,
                at: now,
                reason: None,
            }],
            extra: new.extra,
            concat_ref: None,
        }
    }
}
