//! The message rules every engine applies the same way: what a change of state does to a
//! message (its story, an OTP's text), which changes the event log tells, and a message's life
//! after its claim ([`life`]). An engine gives the rules its indexes through [`Indexes`] and
//! keeps them in step; the rules never name an engine.

pub mod deadlines;
pub mod life;

use crate::message::{Kind, Message, MessageId, Millis, State, Transition};
use crate::store::error::StoreError;
use crate::store::event::Event;
use crate::store::layout::codec::{DeadlineKind, ParkedReceipt};

pub use life::{apply_change, receipt, receipt_outcome, transition, transition_off_queue};

/// What an engine keeps beside each message's record, as the rules change it. Each call is
/// part of the engine's current transaction: nothing is durable until it commits.
pub trait Indexes {
    /// Takes a queued message out of its lane's queue, where it waits for `due`; false when
    /// it was not there.
    fn dequeue(&mut self, lane: u8, due: Millis, id: MessageId) -> Result<bool, StoreError>;
    /// Puts a message in its lane's queue, due at `due`.
    fn enqueue(&mut self, lane: u8, due: Millis, id: MessageId) -> Result<(), StoreError>;
    /// The message is now `submitting` (handed to a session).
    fn enter_flight(&mut self, id: MessageId);
    /// The message has left `submitting`.
    fn leave_flight(&mut self, id: MessageId);
    /// The message became final.
    fn finished(&mut self, id: MessageId);
    /// One message of `kind` moved from state `from` to `to` (the counters).
    fn count_moved(&mut self, kind: Kind, from: State, to: State);
    /// A deadline of the message fires at `when`.
    fn add_deadline(
        &mut self,
        id: MessageId,
        when: Millis,
        kind: DeadlineKind,
    ) -> Result<(), StoreError>;
    /// Part `part` of the message has the operator's id `operator_id` (for its receipts).
    fn index_operator_id(&mut self, operator: &str, operator_id: &str, id: MessageId, part: u32);
    /// The operator's id no longer names a part.
    fn unindex_operator_id(&mut self, operator: &str, operator_id: &str);
    /// True when some receipt may be parked (false lets the rules skip every lookup).
    fn any_parked(&self) -> bool;
    /// Takes the receipt parked under this operator's id, if one is.
    fn take_parked(
        &mut self,
        operator: &str,
        operator_id: &str,
    ) -> Result<Option<ParkedReceipt>, StoreError>;
    /// Appends an event to the log.
    fn emit(&mut self, event: Event) -> Result<(), StoreError>;
    /// Writes the message's record.
    fn save(&mut self, message: &Message) -> Result<(), StoreError>;
}

/// Erases what a finished message said (its text and its replies' texts) once the text
/// retention has passed; false when there was nothing left to erase.
pub fn erase_texts(m: &mut Message) -> bool {
    if m.text.is_none() && m.extra.replies.iter().all(|r| r.text.is_none()) {
        return false;
    }
    m.text = None;
    for reply in &mut m.extra.replies {
        reply.text = None;
    }
    true
}

/// A change to one message (see the `Store` methods of the same names).
#[derive(Clone, Debug)]
pub enum Change {
    /// Cancel a queued message.
    Cancel { reason: String },
    /// Back to the queue after a failed attempt (`refund`: the attempt does not count).
    Requeue {
        due: Millis,
        reason: String,
        refund: bool,
    },
    /// Back to the queue without counting the attempt.
    Defer { until: Millis },
    /// Into a final state.
    Finish { state: State, reason: String },
    /// A request whose reply window closed unanswered becomes `cancelled`, even when its SMS
    /// was already `delivered` (the offer lapsed); other states are left as they are.
    CloseRequest { reason: String },
    /// The operator acknowledged these parts (index, its message id); the message becomes
    /// `submitted` once every one of its `parts` is acknowledged. Parts acknowledged before
    /// by the same operator keep their ids; another operator's are forgotten.
    Accepted {
        operator: String,
        parts: u32,
        accepted: Vec<(u32, String)>,
        concat_ref: Option<u16>,
        give_up_at: Option<Millis>,
    },
    /// A delivery receipt for one part.
    Receipt {
        part: u32,
        stat: String,
        error: Option<String>,
        at: Millis,
    },
}

/// Why a message that arrives already past its `send_by` is never queued.
pub const LATE_ON_ARRIVAL: &str = "send_by had already passed when it was accepted";

/// Why a message caught in `submitting` by a restart is back in the queue.
pub const RESTARTED: &str = "restart: no submit_sm_resp seen";

/// Why a claimed message is expired instead of sent.
pub const TOO_LATE: &str = "send_by passed before it could be sent";

/// Moves `message` to `to` at `at`, adding the step to its story; an OTP's text goes once it
/// is final (it is useless then, and must not linger). Returns the event that tells the
/// change, for the states upstream hears of (`submitted` and the final ones).
pub fn change_state(
    message: &mut Message,
    to: State,
    at: Millis,
    reason: Option<String>,
) -> Option<Event> {
    message.state = to;
    message.history.push(Transition {
        state: to,
        at,
        reason: reason.clone(),
    });
    if to.is_final() && message.kind == Kind::Otp {
        message.text = None;
    }
    (to == State::Submitted || to.is_final()).then(|| Event::StateChanged {
        id: message.id,
        reference: message.reference.clone(),
        state: to,
        kind: Some(message.kind),
        reason,
        at,
    })
}
