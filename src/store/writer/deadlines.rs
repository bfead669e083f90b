//! The deadline watcher's write side: walks the time-ordered deadline index up to `now`
//! (never the records), expiring queued messages past `send_by`, raising `receipt_overdue`
//! and giving up on receipts that never came. Entries of messages that finished meanwhile
//! are simply dropped when their time comes. A message is only ever back in the queue before
//! its `send_by` (a requeue after it expires the message), so its one entry stays valid.

use super::thread::Writer;
use super::tx::Tx;
use crate::message::Millis;
use crate::store::error::StoreError;
use crate::store::layout::codec::{self, DeadlineEntry};
use crate::store::layout::keys;
use crate::store::reports::Fired;
use crate::store::rules::deadlines;

impl Writer {
    /// Fires every deadline up to `now`, at most about `limit` entries per call.
    pub(super) fn fire_deadlines(
        &mut self,
        now: Millis,
        limit: usize,
    ) -> Result<Fired, StoreError> {
        let mut fired = Fired::default();
        let end = keys::deadline_bucket(keys::deadline_bucket_of(now) + keys::DEADLINE_BUCKET_MS);
        let mut from = keys::DEADLINE.to_vec();
        loop {
            if fired.total() >= limit {
                fired.more = true;
                break;
            }
            let mut tx = self.tx();
            let Some((key, bytes)) = tx.first_in_range(from.clone()..end.clone())? else {
                break;
            };
            from = keys::after(&key);
            let bucket = keys::deadline_chunk_bucket(&key).unwrap_or(0);
            let (due, later): (Vec<DeadlineEntry>, Vec<DeadlineEntry>) =
                codec::unpack_deadlines(&bytes)
                    .into_iter()
                    .partition(|e| e.when <= now);
            for entry in due {
                fire_one(&mut tx, entry, now, &mut fired)?;
            }
            if later.is_empty() {
                tx.remove(key.to_vec());
            } else {
                tx.put(key.to_vec(), codec::pack_deadlines(&later));
            }
            // every earlier bucket is done; this one may still hold later entries
            tx.state.deadline_clock = tx.state.deadline_clock.max(bucket - 1);
            self.commit(tx);
        }
        if !fired.more && fired.total() > 0 {
            let mut tx = self.tx();
            tx.state.deadline_clock = tx.state.deadline_clock.max(now);
            self.commit(tx);
        }
        Ok(fired)
    }
}

fn fire_one(
    tx: &mut Tx,
    entry: DeadlineEntry,
    now: Millis,
    fired: &mut Fired,
) -> Result<(), StoreError> {
    // a message in the history tier is finished: its deadlines have nothing left to do
    let Some((message, _)) = tx.load_live(entry.id)? else {
        fired.dropped += 1;
        return Ok(());
    };
    if !deadlines::applies(&message, entry.kind, entry.when) {
        fired.dropped += 1;
        return Ok(());
    }
    let mut message = tx.load_for_update(entry.id)?;
    deadlines::fire(tx, &mut message, entry.kind, entry.when, now, fired)
}
