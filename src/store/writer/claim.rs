//! Claiming due messages for the sending stage: `queued` → `submitting`, one lane at a time,
//! in queue order; messages found past their `send_by` on the way are expired instead.
//!
//! A claim works on whole queue chunks: it takes a run of ids off the lane's head chunk and
//! rewrites the chunk once, instead of finding and rewriting it for every message.

use super::super::{StoreError, codec, keys};
use super::Writer;
use super::lifecycle::transition_off_queue;
use super::tx::Tx;
use crate::message::{Message, Millis, State};

/// Why a claimed message is expired instead of sent.
pub(super) const TOO_LATE: &str = "send_by passed before it could be sent";

/// Most queue entries one claim may drop or expire on top of those it hands out.
const MAX_EXPIRED_PER_CLAIM: usize = 256;

impl Writer {
    /// Claims up to `max` due messages of a lane, in queue order. An error after the first
    /// claim is logged and ends the batch: those already claimed are handed out, not lost
    /// (the chunk being worked on when it happened is left as it was).
    pub(super) fn claim_many(
        &mut self,
        lane: u8,
        now: Millis,
        max: usize,
    ) -> Result<Vec<Message>, StoreError> {
        let mut claimed = Vec::with_capacity(max.min(1024));
        let mut budget = max.saturating_add(MAX_EXPIRED_PER_CLAIM);
        while claimed.len() < max && budget > 0 {
            let mut tx = self.tx();
            match claim_from_head(&mut tx, lane, now, max - claimed.len(), &mut budget) {
                Ok(None) => break,
                Ok(Some(taken)) => {
                    self.commit(tx);
                    claimed.extend(taken);
                }
                Err(e) if claimed.is_empty() => return Err(e),
                Err(e) => {
                    tracing::error!(lane, error = %e, "a claim failed part-way through a batch");
                    break;
                }
            }
        }
        Ok(claimed)
    }
}

/// Takes up to `want` due messages off the lane's head queue chunk (each entry looked at
/// spends one of `budget`); `None` when nothing in the lane is due.
fn claim_from_head(
    tx: &mut Tx,
    lane: u8,
    now: Millis,
    want: usize,
    budget: &mut usize,
) -> Result<Option<Vec<Message>>, StoreError> {
    let Some((key, bytes)) = tx.first_in_prefix(&keys::queue_lane(lane))? else {
        return Ok(None);
    };
    let due = keys::queue_chunk_parts(&key).map(|(_, due)| due);
    let Some(due) = due.filter(|_| bytes.len() % 8 == 0) else {
        return Err(StoreError::Corrupt(format!("bad queue chunk {key:?}")));
    };
    if due > now {
        return Ok(None);
    }
    let ids = codec::unpack_ids(&bytes);
    let mut taken = Vec::new();
    let mut looked = 0;
    for &id in &ids {
        if taken.len() >= want || *budget == 0 {
            break;
        }
        looked += 1;
        *budget -= 1;
        let mut message = match tx.load_for_update(id) {
            Err(StoreError::NotFound(_)) => {
                // an entry without a record would block the lane forever
                tracing::error!(%id, "dropping a queue entry whose record is missing");
                continue;
            }
            loaded => loaded?,
        };
        if message.state != State::Queued {
            tracing::warn!(%id, state = %message.state, "dropping a stale queue entry");
            continue;
        }
        if message.send_by.is_some_and(|s| s <= now) {
            let why = Some(TOO_LATE.into());
            transition_off_queue(tx, &mut message, State::Expired, now, why)?;
            continue;
        }
        message.attempts += 1;
        transition_off_queue(tx, &mut message, State::Submitting, now, None)?;
        taken.push(message);
    }
    match &ids[looked..] {
        [] => tx.remove(key),
        rest => tx.put(key, codec::pack_ids(rest)),
    }
    Ok(Some(taken))
}
