//! A message's life after it is claimed, as every engine applies it: submit, retry, defer,
//! cancel, finish, receipts. Every state change goes through [`transition`], which keeps the
//! engine's indexes ([`Indexes`]: the queue, the in-flight markers, the counters, deadlines,
//! the event log) in step with the record.

use super::{Change, Indexes, TOO_LATE, change_state};
use crate::message::{Kind, Message, Millis, Part, State};
use crate::operator_id::id_candidates;
use crate::store::error::StoreError;
use crate::store::event::Event;
use crate::store::layout::codec::DeadlineKind;

/// What a final delivery receipt `stat:` means for the message, or None while not final.
/// `DELIVRD` and `ACCEPTD` count as delivered; `UNDELIV`, `REJECTD` and `DELETED` as
/// undeliverable; `EXPIRED` as expired; `UNKNOWN` as unknown; anything else (`ENROUTE`) waits.
pub fn receipt_outcome(stat: &str) -> Option<State> {
    match stat.trim().to_ascii_uppercase().as_str() {
        "DELIVRD" | "ACCEPTD" => Some(State::Delivered),
        "UNDELIV" | "REJECTD" | "DELETED" => Some(State::Undeliverable),
        "EXPIRED" => Some(State::Expired),
        "UNKNOWN" => Some(State::Unknown),
        _ => None,
    }
}

/// Moves a message to `to`, keeping every index in step, and records why.
pub fn transition(
    ix: &mut impl Indexes,
    message: &mut Message,
    to: State,
    at: Millis,
    reason: Option<String>,
) -> Result<(), StoreError> {
    let lane = message.kind.lane();
    if message.state == State::Queued && !ix.dequeue(lane, message.next_try, message.id)? {
        tracing::warn!(id = %message.id, "queued message was missing from its queue");
    }
    transition_off_queue(ix, message, to, at, reason)
}

/// [`transition`] for a message that is in no queue chunk (any more): a claim takes a whole
/// run of ids out of the head chunk itself instead of searching the chunk once per message.
pub fn transition_off_queue(
    ix: &mut impl Indexes,
    message: &mut Message,
    to: State,
    at: Millis,
    reason: Option<String>,
) -> Result<(), StoreError> {
    let from = message.state;
    let lane = message.kind.lane();
    if from == State::Submitting {
        ix.leave_flight(message.id);
    }
    match to {
        State::Queued => ix.enqueue(lane, message.next_try, message.id)?,
        State::Submitting => ix.enter_flight(message.id),
        _ => {}
    }
    ix.count_moved(message.kind, from, to);
    let told = change_state(message, to, at, reason);
    if to.is_final() {
        ix.finished(message.id);
    }
    if let Some(event) = told {
        ix.emit(event)?;
    }
    ix.save(message)
}

/// Forgets a message's parts and their operator-id index entries (before it is sent again).
pub fn clear_parts(ix: &mut impl Indexes, message: &mut Message) {
    if let Some(operator) = &message.operator {
        for part in &message.parts {
            if let Some(op_id) = &part.operator_id {
                ix.unindex_operator_id(operator, op_id);
            }
        }
    }
    message.parts.clear();
}

fn wrong(message: &Message, wanted: &'static str) -> StoreError {
    StoreError::WrongState {
        id: message.id,
        state: message.state,
        wanted,
    }
}

/// Applies one change to `m`, keeping the engine's indexes in step.
pub fn apply_change(
    ix: &mut impl Indexes,
    m: &mut Message,
    change: Change,
    now: Millis,
) -> Result<(), StoreError> {
    match change {
        Change::Cancel { reason } => {
            if m.state != State::Queued {
                return Err(wrong(m, "queued"));
            }
            transition(ix, m, State::Cancelled, now, Some(reason))?;
        }
        Change::Requeue {
            due,
            reason,
            refund,
        } => {
            if m.state != State::Submitting {
                return Err(wrong(m, "submitting"));
            }
            // parts the operator acknowledged keep their ids: only the others go again
            if refund {
                m.attempts = m.attempts.saturating_sub(1);
            }
            // a next try after send_by waits queued: the deadline watcher expires it at
            // send_by itself, not before (it might still go if its try came sooner)
            if m.send_by.is_some_and(|s| s <= now) {
                let why = format!("{TOO_LATE} (last failure: {reason})");
                transition(ix, m, State::Expired, now, Some(why))?;
            } else {
                m.next_try = due;
                transition(ix, m, State::Queued, now, Some(reason))?;
            }
        }
        Change::Defer { until } => {
            if m.state != State::Submitting {
                return Err(wrong(m, "submitting"));
            }
            defer(ix, m, until, now)?;
        }
        Change::CloseRequest { reason } => {
            let closable = matches!(
                m.state,
                State::Submitted | State::Delivered | State::Unknown
            );
            if m.kind == Kind::Request && closable {
                transition(ix, m, State::Cancelled, now, Some(reason))?;
            }
        }
        Change::Finish { state, reason } => {
            if !state.is_final() {
                return Err(StoreError::Invalid(format!("{state} is not a final state")));
            }
            if m.state.is_final() {
                return Err(wrong(m, "not yet final"));
            }
            transition(ix, m, state, now, Some(reason))?;
        }
        Change::Accepted {
            operator,
            parts,
            accepted,
            concat_ref,
            give_up_at,
        } => {
            if m.state != State::Submitting {
                return Err(wrong(m, "submitting"));
            }
            let acks = Acks {
                operator,
                parts,
                accepted,
                concat_ref,
            };
            accepted_parts(ix, m, acks, now, give_up_at)?;
        }
        Change::Receipt {
            part,
            stat,
            error,
            at,
        } => receipt(ix, m, part, stat, error, at)?,
    }
    Ok(())
}

/// Undoes a claim: back to the queue at `until`, the attempt not counted.
fn defer(
    ix: &mut impl Indexes,
    m: &mut Message,
    until: Millis,
    now: Millis,
) -> Result<(), StoreError> {
    if m.send_by.is_some_and(|s| s <= now) {
        return transition(ix, m, State::Expired, now, Some(TOO_LATE.into()));
    }
    ix.leave_flight(m.id);
    ix.count_moved(m.kind, State::Submitting, State::Queued);
    m.attempts = m.attempts.saturating_sub(1);
    if m.history
        .last()
        .is_some_and(|t| t.state == State::Submitting)
    {
        m.history.pop();
    }
    m.state = State::Queued;
    m.next_try = until;
    ix.enqueue(m.kind.lane(), until, m.id)?;
    ix.save(m)
}

/// Enters `submitted` and arms the final-receipt timeout.
fn submitted(
    ix: &mut impl Indexes,
    m: &mut Message,
    now: Millis,
    give_up_at: Option<Millis>,
) -> Result<(), StoreError> {
    m.extra.give_up_at = give_up_at;
    transition(ix, m, State::Submitted, now, None)?;
    if let Some(when) = give_up_at {
        ix.add_deadline(m.id, when, DeadlineKind::GiveUp)?;
    }
    Ok(())
}

/// What the operator acknowledged of one job (see [`Change::Accepted`]).
struct Acks {
    operator: String,
    parts: u32,
    accepted: Vec<(u32, String)>,
    concat_ref: Option<u16>,
}

/// Records acknowledged parts; `submitted` once every part has its operator id. A receipt
/// parked for one of the new ids is applied at once.
fn accepted_parts(
    ix: &mut impl Indexes,
    m: &mut Message,
    acks: Acks,
    now: Millis,
    give_up_at: Option<Millis>,
) -> Result<(), StoreError> {
    let Acks {
        operator,
        parts,
        accepted,
        concat_ref,
    } = acks;
    if parts == 0 || accepted.iter().any(|(part, _)| *part >= parts) {
        return Err(StoreError::Invalid(format!(
            "acknowledged parts {:?} do not fit the {parts} parts of message {}",
            accepted.iter().map(|(part, _)| part).collect::<Vec<_>>(),
            m.id
        )));
    }
    // ids another operator gave, or of another split of the text, mean nothing any more
    if m.operator.as_deref().is_some_and(|o| o != operator) || m.parts.len() != parts as usize {
        clear_parts(ix, m);
    }
    m.parts.resize(parts as usize, Part::default());
    let mut new_ids = Vec::with_capacity(accepted.len());
    for (part, operator_id) in accepted {
        let slot = &mut m.parts[part as usize];
        if let Some(old) = slot.operator_id.replace(operator_id.clone()) {
            ix.unindex_operator_id(&operator, &old);
        }
        ix.index_operator_id(&operator, &operator_id, m.id, part);
        new_ids.push((part, operator_id));
    }
    m.operator = Some(operator);
    if concat_ref.is_some() {
        m.concat_ref = concat_ref;
    }
    let all = m.parts.iter().all(|p| p.operator_id.is_some());
    if all {
        submitted(ix, m, now, give_up_at)?;
    }
    let matched = apply_parked(ix, m, &new_ids)?;
    if !all && !matched {
        ix.save(m)?;
    }
    Ok(())
}

/// Applies receipts parked for the parts that just got their operator ids (`new_ids`: part
/// index, operator id); true when one was found (the record is then saved).
fn apply_parked(
    ix: &mut impl Indexes,
    m: &mut Message,
    new_ids: &[(u32, String)],
) -> Result<bool, StoreError> {
    if !ix.any_parked() {
        return Ok(false); // the usual case: no lookups at all
    }
    let Some(operator) = m.operator.clone() else {
        return Ok(false);
    };
    let mut matched = false;
    for (part, operator_id) in new_ids {
        // the receipt was parked under the canonical form of its own id, which is one of
        // this id's candidates (the relation is symmetric: see `operator_id`)
        for candidate in id_candidates(operator_id) {
            let Some(parked) = ix.take_parked(&operator, &candidate)? else {
                continue;
            };
            receipt(ix, m, *part, parked.stat, parked.error, parked.at)?;
            matched = true;
            break;
        }
    }
    Ok(matched)
}

/// Records a receipt for one part; the message becomes final once every part has a final
/// receipt.
pub fn receipt(
    ix: &mut impl Indexes,
    m: &mut Message,
    part: u32,
    stat: String,
    error: Option<String>,
    at: Millis,
) -> Result<(), StoreError> {
    // a part the operator acknowledged may hear back while others are still to be sent
    let Some(slot) = m.parts.get_mut(part as usize) else {
        return Err(StoreError::Invalid(format!(
            "message {} has no part {part}",
            m.id
        )));
    };
    if slot.receipt.as_deref() == Some(stat.as_str()) && slot.error == error {
        return Ok(()); // a repeated receipt changes nothing
    }
    slot.receipt = Some(stat.clone());
    slot.error = error.clone();
    slot.receipt_at = Some(at);
    ix.emit(Event::Receipt {
        id: m.id,
        reference: m.reference.clone(),
        part,
        stat: stat.clone(),
        error: error.clone(),
        at,
    })?;
    let outcomes: Option<Vec<State>> = m
        .parts
        .iter()
        .map(|p| p.receipt.as_deref().and_then(receipt_outcome))
        .collect();
    match outcomes {
        Some(all) if m.state == State::Submitted => {
            let state = [State::Undeliverable, State::Expired, State::Unknown]
                .into_iter()
                .find(|s| all.contains(s))
                .unwrap_or(State::Delivered);
            // the reason quotes the receipt that decided the outcome
            let decisive = all
                .iter()
                .position(|s| *s == state)
                .and_then(|i| m.parts.get(i));
            let reason = decisive.map(|p| match (&p.receipt, &p.error) {
                (Some(stat), Some(err)) => format!("receipt {stat} err:{err}"),
                (Some(stat), None) => format!("receipt {stat}"),
                _ => "receipt".to_owned(),
            });
            transition(ix, m, state, at, reason)
        }
        _ => ix.save(m),
    }
}
