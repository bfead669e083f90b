//! The message rules every engine applies the same way: what a change of state does to a
//! message (its story, an OTP's text) and which changes the event log tells. The engines keep
//! their own indexes in step around these.

use crate::message::{Kind, Message, Millis, State, Transition};
use crate::store::event::Event;

/// Why a message that arrives already past its `send_by` is never queued.
pub const LATE_ON_ARRIVAL: &str = "send_by had already passed when it was accepted";

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
