//! Moving finished messages from the live store to the history tier, in two steps so that a
//! crash at any moment loses and duplicates nothing:
//!
//! 1. A message that became final at least `move_to_history_after` ago is copied to the
//!    history (its record, reference and operator ids) with the next flush job; the history
//!    committer commits those copies on its own thread after the flusher has answered that
//!    job's waiters (they wait for nothing of it). One job's copies are made at a time.
//! 2. Once the committer reports them durable ([`Op::HistoryDurable`]), the live record and
//!    its indexes are deleted — unless the record changed meanwhile (a late receipt, a
//!    reply), in which case it is copied again later.
//!
//! [`Op::HistoryDurable`]: super::ops::Op::HistoryDurable
//!
//! Between the steps the message is in both tiers, identical; reads look at the live store
//! first. A crash between them leaves the live copy, which the sweep at the next start finds
//! (it walks the live records once and queues every final one): the copy is made again and
//! the live one deleted. The same sweep moves the finished messages of a store written before
//! the history tier existed.

use super::chunks;
use super::thread::Writer;
use super::tx::Tx;
use crate::message::{Message, Millis};
use crate::store::error::StoreError;
use crate::store::event::Event;
use crate::store::history::HistoryWrite;
use crate::store::layout::codec;
use crate::store::layout::codec::EVENT_VERSION;
use crate::store::layout::event_run;
use crate::store::layout::keys;

/// Most messages copied to the history with one flush.
const MOVE_BATCH: usize = 4096;
/// Live records the start-up sweep looks at per group.
const SWEEP_BATCH: usize = 1024;
/// Most events copied to the history with one flush.
const EVENT_BATCH: usize = 16_384;

impl Writer {
    /// Step 1 for messages final since `move_after` (and the sweep's finds): copies them to
    /// the history with the next flush job.
    pub(super) fn copy_finished(&mut self, now: Millis) -> Result<(), StoreError> {
        self.sweep_live()?;
        self.copy_events()?;
        let before = now.saturating_sub(self.config.move_after_ms);
        let mut tx = self.tx();
        let mut copying = Vec::new();
        while copying.len() < MOVE_BATCH {
            match self.moves.finished.front() {
                Some(&(at, _)) if at <= before => {}
                _ => break,
            }
            let Some((_, id)) = self.moves.finished.pop_front() else {
                break;
            };
            let Some(bytes) = tx.get(&keys::record(id))? else {
                continue; // forgotten, or already moved
            };
            let message = codec::decode_record(&bytes)?;
            if !message.state.is_final() {
                continue;
            }
            tx.write_history(HistoryWrite::Put(Box::new(message)));
            copying.push((id, bytes));
        }
        self.moves.copying.extend(copying);
        self.commit(tx);
        Ok(())
    }

    /// Step 1 for events: copies the durable event runs not yet in the history (read through
    /// the group's staged writes, so a run trimmed in this group is not copied).
    fn copy_events(&mut self) -> Result<(), StoreError> {
        let durable = *self.shared.events.borrow();
        let from = self.moves.events_copied;
        if durable <= from || self.moves.events_copying.is_some() {
            return Ok(());
        }
        let tx = self.tx();
        let runs = tx.db_range(
            keys::event(from + 1)..keys::prefix_end(keys::EVENT),
            EVENT_BATCH,
        )?;
        drop(tx);
        let mut rows = Vec::new();
        let mut through = from;
        for (key, bytes) in runs {
            let first = keys::event_seq(&key).unwrap_or(0);
            let run = event_run::split(first, &bytes)?;
            let last = run.last().map_or(first, |(seq, _)| *seq);
            if last > durable || rows.len() >= EVENT_BATCH {
                break;
            }
            for (seq, raw) in run {
                let at = codec::decode::<Event>(EVENT_VERSION, raw, "event")?.at();
                rows.push((seq, at, raw.to_vec()));
            }
            through = last;
        }
        if !rows.is_empty() {
            self.moves.events_in_flight = rows.iter().map(|(seq, at, _)| (*seq, *at)).collect();
            self.history_writes.push(HistoryWrite::Events(rows));
            self.moves.events_copying = Some(through);
        }
        Ok(())
    }

    /// Step 2: deletes the live copies of what the committer made durable in the history,
    /// unless they changed since they were copied; and the live event runs now there.
    pub(super) fn drop_moved_live_copies(&mut self, now: Millis) -> Result<(), StoreError> {
        self.drop_moved_events()?;
        let copied = std::mem::take(&mut self.moves.copied);
        if copied.is_empty() {
            return Ok(());
        }
        let mut tx = self.tx();
        let mut again = Vec::new();
        let mut deadlines = Vec::new();
        for (id, bytes) in copied {
            match tx.get(&keys::record(id))? {
                Some(live) if live == bytes => {
                    let message = codec::decode_record(&live)?;
                    remove_live(&mut tx, &message)?;
                    deadlines.extend(chunks::deadline_times(&message));
                }
                Some(_) => again.push(id), // changed since: copied again later
                None => {}
            }
        }
        chunks::remove_deadlines(&mut tx, &deadlines)?;
        self.moves.finished(again, now);
        self.commit(tx);
        Ok(())
    }

    /// Deletes the live event runs the history holds whole.
    fn drop_moved_events(&mut self) -> Result<(), StoreError> {
        let through = self.moves.events_copied;
        if through <= self.state.events_moved {
            return Ok(());
        }
        let mut tx = self.tx();
        for kv in self.db.scan_prefix(keys::EVENT) {
            let (key, bytes) = kv?;
            let first = keys::event_seq(&key).unwrap_or(0);
            let last = event_run::split(first, &bytes)?
                .last()
                .map_or(first, |(seq, _)| *seq);
            if last > through {
                break;
            }
            tx.remove(key.to_vec());
        }
        tx.state.events_moved = through;
        self.commit(tx);
        Ok(())
    }

    /// The start-up sweep: queues the final messages found among the next live records.
    fn sweep_live(&mut self) -> Result<(), StoreError> {
        let Some(from) = self.moves.sweep.take() else {
            return Ok(());
        };
        let end = keys::prefix_end(keys::RECORD);
        let mut next = None;
        let mut found = Vec::new();
        for (i, kv) in self.db.range(from..end).enumerate() {
            let (key, bytes) = kv?;
            if i == SWEEP_BATCH {
                next = Some(key.to_vec());
                break;
            }
            let message = codec::decode_record(&bytes)?;
            if let Some(at) = message.history.last().filter(|_| message.state.is_final()) {
                found.push((at.at, message.id));
            }
        }
        self.moves.finished.extend(found);
        self.moves.sweep = next;
        Ok(())
    }
}

/// Deletes a live record and every live index entry that names it (its operator ids and its
/// reference pair).
pub fn remove_live(tx: &mut Tx, m: &Message) -> Result<(), StoreError> {
    if let Some(operator) = &m.operator {
        for part in &m.parts {
            if let Some(op_id) = &part.operator_id {
                tx.remove(keys::operator_id(operator, op_id));
            }
        }
    }
    if let Some(reference) = &m.reference {
        let hash = keys::reference_hash(reference);
        let bucket = keys::reference_bucket(hash);
        if let Some(bytes) = tx.get(&bucket)? {
            let pairs: Vec<_> = codec::unpack_pairs(&bytes)
                .into_iter()
                .filter(|p| *p != (hash, m.id))
                .collect();
            if pairs.is_empty() {
                tx.remove(bucket);
            } else {
                tx.put(bucket, codec::pack_pairs(&pairs));
            }
        }
    }
    tx.remove(keys::record(m.id));
    Ok(())
}
