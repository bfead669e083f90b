//! Claiming due messages for the sending stage: `queued` → `submitting`, one lane at a time,
//! in queue order; messages found past their `send_by` on the way are expired instead.

use super::super::StoreError;
use super::lifecycle::transition;
use super::{Writer, chunks};
use crate::message::{Message, Millis, State};

/// Why a claimed message is expired instead of sent.
pub(super) const TOO_LATE: &str = "send_by passed before it could be sent";

/// Most messages one claim may expire on its way to a sendable one.
const MAX_EXPIRED_PER_CLAIM: usize = 256;

impl Writer {
    /// Claims up to `max` due messages of a lane, in queue order. An error after the first
    /// claim is logged and ends the batch: those already claimed are handed out, not lost.
    pub(super) fn claim_many(
        &mut self,
        lane: u8,
        now: Millis,
        max: usize,
    ) -> Result<Vec<Message>, StoreError> {
        let mut claimed = Vec::with_capacity(max.min(1024));
        while claimed.len() < max {
            match self.claim(lane, now) {
                Ok(Some(message)) => claimed.push(message),
                Ok(None) => break,
                Err(e) if claimed.is_empty() => return Err(e),
                Err(e) => {
                    tracing::error!(lane, error = %e, "a claim failed part-way through a batch");
                    break;
                }
            }
        }
        Ok(claimed)
    }

    /// Claims the next due message of a lane: `queued` → `submitting`, counting an attempt.
    /// Messages found past their `send_by` on the way are expired, never handed out.
    pub(super) fn claim(&mut self, lane: u8, now: Millis) -> Result<Option<Message>, StoreError> {
        for _ in 0..MAX_EXPIRED_PER_CLAIM {
            let mut tx = self.tx();
            let Some((id, due)) = chunks::head(&tx, lane)? else {
                return Ok(None);
            };
            if due > now {
                return Ok(None);
            }
            let mut message = match tx.load_for_update(id) {
                Err(StoreError::NotFound(_)) => {
                    // an entry without a record would block the lane forever
                    tracing::error!(%id, "dropping a queue entry whose record is missing");
                    chunks::dequeue(&mut tx, lane, due, id)?;
                    self.commit(tx);
                    continue;
                }
                loaded => loaded?,
            };
            if message.state != State::Queued {
                tracing::warn!(%id, state = %message.state, "dropping a stale queue entry");
                chunks::dequeue(&mut tx, lane, due, id)?;
                self.commit(tx);
                continue;
            }
            if message.send_by.is_some_and(|s| s <= now) {
                transition(
                    &mut tx,
                    &mut message,
                    State::Expired,
                    now,
                    Some(TOO_LATE.into()),
                )?;
                self.commit(tx);
                continue;
            }
            message.attempts += 1;
            transition(&mut tx, &mut message, State::Submitting, now, None)?;
            self.commit(tx);
            return Ok(Some(message));
        }
        Ok(None)
    }
}
