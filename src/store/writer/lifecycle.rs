//! A message's life after it is claimed: submit, retry, defer, cancel, finish, receipts.
//! Every state change goes through [`transition`], which keeps the queue, the in-flight
//! markers, the counters, the history and the event log in step with the record.

use super::chunks;
use super::ops::Change;
use super::thread::Writer;
use super::tx::Tx;
use crate::message::{Kind, Message, MessageId, Millis, Part, State};
use crate::operator_id::id_candidates;
use crate::store::error::StoreError;
use crate::store::event::Event;
use crate::store::layout::codec::{
    self, DeadlineEntry, DeadlineKind, PARKED_VERSION, ParkedReceipt,
};
use crate::store::layout::keys;
use crate::store::rules::{self, TOO_LATE};

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
    tx: &mut Tx,
    message: &mut Message,
    to: State,
    at: Millis,
    reason: Option<String>,
) -> Result<(), StoreError> {
    let lane = message.kind.lane();
    if message.state == State::Queued && !chunks::dequeue(tx, lane, message.next_try, message.id)? {
        tracing::warn!(id = %message.id, "queued message was missing from its queue");
    }
    transition_off_queue(tx, message, to, at, reason)
}

/// [`transition`] for a message that is in no queue chunk (any more): a claim takes a whole
/// run of ids out of the head chunk itself instead of searching the chunk once per message.
pub fn transition_off_queue(
    tx: &mut Tx,
    message: &mut Message,
    to: State,
    at: Millis,
    reason: Option<String>,
) -> Result<(), StoreError> {
    let from = message.state;
    let lane = message.kind.lane();
    if from == State::Submitting {
        tx.land(message.id);
    }
    match to {
        State::Queued => chunks::enqueue(tx, lane, message.next_try, &[message.id])?,
        State::Submitting => tx.take_off(message.id),
        _ => {}
    }
    tx.state.counts.moved(message.kind, from, to);
    let told = rules::change_state(message, to, at, reason);
    if to.is_final() {
        tx.finished(message.id);
    }
    if let Some(event) = told {
        tx.emit(event)?;
    }
    tx.save(message)
}

/// Forgets a message's parts and their operator-id index entries (before it is sent again).
pub fn clear_parts(tx: &mut Tx, message: &mut Message) {
    if let Some(operator) = &message.operator {
        for part in &message.parts {
            if let Some(op_id) = &part.operator_id {
                tx.remove(keys::operator_id(operator, op_id));
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

impl Writer {
    /// Applies one change to one message.
    pub(super) fn change(
        &mut self,
        id: MessageId,
        change: Change,
        now: Millis,
    ) -> Result<Message, StoreError> {
        let mut tx = self.tx();
        let mut m = tx.load_for_update(id)?;
        match change {
            Change::Cancel { reason } => {
                if m.state != State::Queued {
                    return Err(wrong(&m, "queued"));
                }
                transition(&mut tx, &mut m, State::Cancelled, now, Some(reason))?;
            }
            Change::Requeue {
                due,
                reason,
                refund,
            } => {
                if m.state != State::Submitting {
                    return Err(wrong(&m, "submitting"));
                }
                // parts the operator acknowledged keep their ids: only the others go again
                if refund {
                    m.attempts = m.attempts.saturating_sub(1);
                }
                // a next try after send_by waits queued: the deadline watcher expires it at
                // send_by itself, not before (it might still go if its try came sooner)
                if m.send_by.is_some_and(|s| s <= now) {
                    let why = format!("{TOO_LATE} (last failure: {reason})");
                    transition(&mut tx, &mut m, State::Expired, now, Some(why))?;
                } else {
                    m.next_try = due;
                    transition(&mut tx, &mut m, State::Queued, now, Some(reason))?;
                }
            }
            Change::Defer { until } => {
                if m.state != State::Submitting {
                    return Err(wrong(&m, "submitting"));
                }
                defer(&mut tx, &mut m, until, now)?;
            }
            Change::CloseRequest { reason } => {
                let closable = matches!(
                    m.state,
                    State::Submitted | State::Delivered | State::Unknown
                );
                if m.kind == Kind::Request && closable {
                    transition(&mut tx, &mut m, State::Cancelled, now, Some(reason))?;
                }
            }
            Change::Finish { state, reason } => {
                if !state.is_final() {
                    return Err(StoreError::Invalid(format!("{state} is not a final state")));
                }
                if m.state.is_final() {
                    return Err(wrong(&m, "not yet final"));
                }
                transition(&mut tx, &mut m, state, now, Some(reason))?;
            }
            Change::Accepted {
                operator,
                parts,
                accepted,
                concat_ref,
                give_up_at,
            } => {
                if m.state != State::Submitting {
                    return Err(wrong(&m, "submitting"));
                }
                let acks = Acks {
                    operator,
                    parts,
                    accepted,
                    concat_ref,
                };
                accepted_parts(&mut tx, &mut m, acks, now, give_up_at)?;
            }
            Change::Receipt {
                part,
                stat,
                error,
                at,
            } => receipt(&mut tx, &mut m, part, stat, error, at)?,
        }
        self.commit(tx);
        Ok(m)
    }
}

/// Undoes a claim: back to the queue at `until`, the attempt not counted.
fn defer(tx: &mut Tx, m: &mut Message, until: Millis, now: Millis) -> Result<(), StoreError> {
    if m.send_by.is_some_and(|s| s <= now) {
        return transition(tx, m, State::Expired, now, Some(TOO_LATE.into()));
    }
    tx.land(m.id);
    tx.state
        .counts
        .moved(m.kind, State::Submitting, State::Queued);
    m.attempts = m.attempts.saturating_sub(1);
    if m.history
        .last()
        .is_some_and(|t| t.state == State::Submitting)
    {
        m.history.pop();
    }
    m.state = State::Queued;
    m.next_try = until;
    chunks::enqueue(tx, m.kind.lane(), until, &[m.id])?;
    tx.save(m)
}

/// Enters `submitted` and arms the final-receipt timeout.
fn submitted(
    tx: &mut Tx,
    m: &mut Message,
    now: Millis,
    give_up_at: Option<Millis>,
) -> Result<(), StoreError> {
    m.extra.give_up_at = give_up_at;
    transition(tx, m, State::Submitted, now, None)?;
    if let Some(when) = give_up_at {
        chunks::add_deadlines(
            tx,
            &[DeadlineEntry {
                when,
                kind: DeadlineKind::GiveUp,
                id: m.id,
            }],
        )?;
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
    tx: &mut Tx,
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
        clear_parts(tx, m);
    }
    m.parts.resize(parts as usize, Part::default());
    let mut new_ids = Vec::with_capacity(accepted.len());
    for (part, operator_id) in accepted {
        let slot = &mut m.parts[part as usize];
        if let Some(old) = slot.operator_id.replace(operator_id.clone()) {
            tx.remove(keys::operator_id(&operator, &old));
        }
        tx.put(
            keys::operator_id(&operator, &operator_id),
            codec::pack_part_ref(m.id, part),
        );
        new_ids.push((part, operator_id));
    }
    m.operator = Some(operator);
    if concat_ref.is_some() {
        m.concat_ref = concat_ref;
    }
    let all = m.parts.iter().all(|p| p.operator_id.is_some());
    if all {
        submitted(tx, m, now, give_up_at)?;
    }
    let matched = apply_parked(tx, m, &new_ids)?;
    if !all && !matched {
        tx.save(m)?;
    }
    Ok(())
}

/// Applies receipts parked for the parts that just got their operator ids (`new_ids`: part
/// index, operator id); true when one was found (the record is then saved).
fn apply_parked(
    tx: &mut Tx,
    m: &mut Message,
    new_ids: &[(u32, String)],
) -> Result<bool, StoreError> {
    if tx.state.parked == 0 {
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
            let key = keys::parked(&operator, &candidate);
            let Some(bytes) = tx.get(&key)? else {
                continue;
            };
            let parked: ParkedReceipt = codec::decode(PARKED_VERSION, &bytes, "parked receipt")?;
            tx.remove(key);
            tx.state.parked = tx.state.parked.saturating_sub(1);
            receipt(tx, m, *part, parked.stat, parked.error, parked.at)?;
            matched = true;
            break;
        }
    }
    Ok(matched)
}

/// Records a receipt for one part; the message becomes final once every part has a final
/// receipt.
pub(super) fn receipt(
    tx: &mut Tx,
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
    tx.emit(Event::Receipt {
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
            transition(tx, m, state, at, reason)
        }
        _ => tx.save(m),
    }
}
