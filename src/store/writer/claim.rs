//! Claiming due messages for the sending stage: `queued` → `submitting`, one lane at a time,
//! in queue order; messages found past their `send_by` on the way are expired instead.
//!
//! A claim works on whole queue chunks: it takes a run of ids off the lane's head chunk and
//! rewrites the chunk once, instead of finding and rewriting it for every message.

use super::thread::Writer;
use super::tx::Tx;
use crate::message::{Kind, Message, Millis, State};
use crate::store::error::StoreError;
use crate::store::layout::codec;
use crate::store::layout::keys;
use crate::store::rules::TOO_LATE;
use crate::store::rules::transition_off_queue;

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

impl Writer {
    /// After an accept with `otps` OTPs in it: claims up to that many due OTPs (in lane order,
    /// so an older due one goes first) and hands them over once this group is flushed. Nothing
    /// is claimed without a listening taker; they then wait in the lane for the claim loop.
    pub(super) fn claim_accepted_otps(&mut self, otps: usize, now: Millis) {
        if otps == 0 {
            return;
        }
        let Some(taker) = self.shared.direct.taker() else {
            return;
        };
        let claimed = match self.claim_many(Kind::Otp.lane(), now, otps) {
            Ok(claimed) if !claimed.is_empty() => claimed,
            Ok(_) => return,
            Err(e) => {
                tracing::error!(error = %e, "cannot claim accepted OTPs; they wait in the queue");
                return;
            }
        };
        // a failed flush trips the fail-stop: the claims are then not on disk, and not sent
        self.pending.push(Box::new(move |flushed| {
            if flushed.is_ok() {
                for message in claimed {
                    // a taker gone at shutdown leaves it `submitting`: the next start requeues it
                    let _ = taker.send(message);
                }
            }
        }));
    }
}
