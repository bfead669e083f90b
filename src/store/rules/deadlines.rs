//! What a deadline does when it comes due, as every engine applies it: a queued message past
//! its `send_by` expires, a `receipt_by` that passes is raised as `receipt_overdue`, and a
//! submitted message whose final receipt never came becomes `unknown`.

use super::{Indexes, TOO_LATE, transition};
use crate::message::{Message, Millis, State};
use crate::store::error::StoreError;
use crate::store::event::Event;
use crate::store::layout::codec::DeadlineKind;
use crate::store::reports::Fired;

/// Why a submitted message became `unknown`.
pub const GAVE_UP: &str = "no final receipt before the final receipt timeout";

/// True when `m`'s deadline of `kind`, set for `when`, still has something to do (a message
/// that moved on since it was set has nothing left for it).
pub fn applies(m: &Message, kind: DeadlineKind, when: Millis) -> bool {
    match kind {
        DeadlineKind::SendBy => m.state == State::Queued && m.send_by == Some(when),
        DeadlineKind::ReceiptBy => {
            !m.state.is_final()
                && m.receipt_by == Some(when)
                && m.extra.receipt_overdue_at.is_none()
        }
        DeadlineKind::GiveUp => m.state == State::Submitted,
    }
}

/// Fires `m`'s deadline of `kind`, set for `when`, at `now` (when it [`applies`]; counted as
/// dropped otherwise).
pub fn fire(
    ix: &mut impl Indexes,
    m: &mut Message,
    kind: DeadlineKind,
    when: Millis,
    now: Millis,
    fired: &mut Fired,
) -> Result<(), StoreError> {
    if !applies(m, kind, when) {
        fired.dropped += 1;
        return Ok(());
    }
    match kind {
        DeadlineKind::SendBy => {
            transition(ix, m, State::Expired, now, Some(TOO_LATE.to_owned()))?;
            fired.expired += 1;
        }
        DeadlineKind::ReceiptBy => {
            m.extra.receipt_overdue_at = Some(now);
            ix.save(m)?;
            ix.emit(Event::ReceiptOverdue {
                id: m.id,
                reference: m.reference.clone(),
                receipt_by: when,
                at: now,
            })?;
            fired.overdue += 1;
        }
        DeadlineKind::GiveUp => {
            transition(ix, m, State::Unknown, now, Some(GAVE_UP.to_owned()))?;
            fired.gave_up += 1;
        }
    }
    Ok(())
}

/// `m`'s deadlines still to fire, earliest first: its `send_by` while it is queued, its
/// `receipt_by` until it is raised, its final-receipt timeout once submitted.
pub fn pending(m: &Message) -> Vec<(Millis, DeadlineKind)> {
    let mut due: Vec<(Millis, DeadlineKind)> = [
        m.send_by.map(|t| (t, DeadlineKind::SendBy)),
        m.receipt_by.map(|t| (t, DeadlineKind::ReceiptBy)),
        m.extra.give_up_at.map(|t| (t, DeadlineKind::GiveUp)),
    ]
    .into_iter()
    .flatten()
    .filter(|&(when, kind)| applies(m, kind, when))
    .collect();
    due.sort_by_key(|&(when, _)| when);
    due
}
