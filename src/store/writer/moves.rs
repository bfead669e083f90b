//! Moving finished messages from the live store to the history tier, in two steps so that a
//! crash at any moment loses and duplicates nothing:
//!
//! 1. A message that became final at least `move_to_history_after` ago is copied to the
//!    history (its record, reference and operator ids) with the next flush job; the flusher
//!    commits the history before it answers anyone.
//! 2. Once that flush is done, the live record and its indexes are deleted — unless the record
//!    changed meanwhile (a late receipt, a reply), in which case it is copied again later.
//!
//! Between the steps the message is in both tiers, identical; reads look at the live store
//! first. A crash between them leaves the live copy, which the sweep at the next start finds
//! (it walks the live records once and queues every final one): the copy is made again and
//! the live one deleted. The same sweep moves the finished messages of a store written before
//! the history tier existed.

use super::super::codec::EVENT_VERSION;
use super::super::counts::Counts;
use super::super::event::Event;
use super::super::event_run;
use super::super::history::{History, HistoryWrite};
use super::super::{StoreError, codec, keys};
use super::chunks;
use super::tx::Tx;
use super::{Shared, Writer};
use crate::message::{Message, MessageId, Millis};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};

/// Most messages copied to the history with one flush.
const MOVE_BATCH: usize = 4096;
/// Live records the start-up sweep looks at per group.
const SWEEP_BATCH: usize = 1024;
/// Most events copied to the history with one flush.
const EVENT_BATCH: usize = 16_384;

/// History writes not yet durable, by message (`None`: forgotten), with the number of the
/// flush job that makes them durable.
type Pending = HashMap<MessageId, (u64, Option<Message>)>;

/// The history tier as the writer sees it: what is committed, under what its flush jobs have
/// not made durable yet.
#[derive(Clone)]
pub struct HistoryView {
    history: Arc<History>,
    pending: Arc<Mutex<Pending>>,
}

impl HistoryView {
    /// A view of `history` with nothing pending.
    pub fn new(history: Arc<History>) -> Self {
        HistoryView {
            history,
            pending: Arc::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The message as the history holds it once the pending writes are durable.
    pub fn get(&self, id: MessageId) -> Result<Option<Message>, StoreError> {
        if let Some((_, change)) = self.lock().get(&id) {
            return Ok(change.clone());
        }
        self.history.get(id)
    }

    /// How many messages of each kind the history holds in each state, the pending writes
    /// included.
    pub fn counts(&self) -> Result<Counts, StoreError> {
        let mut counts = Counts::default();
        for (kind, state, n) in self.history.counts()? {
            counts.add_many(kind, state, n);
        }
        let pending: Vec<(MessageId, Option<Message>)> = (self.lock().iter())
            .map(|(id, (_, m))| (*id, m.clone()))
            .collect();
        for (id, now) in pending {
            if let Some(before) = self.history.get(id)? {
                counts.remove(before.kind, before.state);
            }
            if let Some(now) = now {
                counts.add(now.kind, now.state);
            }
        }
        Ok(counts)
    }

    /// The history itself.
    pub fn history(&self) -> &Arc<History> {
        &self.history
    }

    /// Notes writes that flush job `job` makes durable.
    pub fn add(&self, job: u64, writes: &[HistoryWrite]) {
        let mut pending = self.lock();
        for write in writes {
            let left = match write {
                HistoryWrite::Put(m) => Some((**m).clone()),
                HistoryWrite::Forget(_) => None,
                HistoryWrite::Events(_) | HistoryWrite::TrimEvents { .. } => continue,
            };
            if let Some(id) = write.id() {
                pending.insert(id, (job, left));
            }
        }
    }

    /// Flush job `job` is done: what it wrote is in the history.
    pub fn durable(&self, job: u64) {
        self.lock().retain(|_, (of, _)| *of > job);
    }
}

/// The writer's moving work.
#[derive(Default)]
pub struct Moves {
    /// Live messages made final, with when, oldest first.
    finished: std::collections::VecDeque<(Millis, MessageId)>,
    /// Copied to the history by the flush job in flight: id and the live bytes copied.
    copying: Vec<(MessageId, Vec<u8>)>,
    /// Copied and durable: their live copies are deleted in the next group.
    copied: Vec<(MessageId, Vec<u8>)>,
    /// The start-up sweep's next live record key; None once it has walked them all.
    sweep: Option<Vec<u8>>,
    /// Every event up to this seq is durable in the history.
    events_copied: u64,
    /// The events the flush job in flight copies reach this seq.
    events_copying: Option<u64>,
    /// Seq and time of each event that job copies (what trimming counts before it lands).
    events_in_flight: Vec<(u64, Millis)>,
}

impl Moves {
    /// Moving work for a store just opened, whose history holds the events up to
    /// `events_copied`: the sweep starts at the first live record.
    pub fn starting(events_copied: u64) -> Self {
        Moves {
            sweep: Some(keys::RECORD.to_vec()),
            events_copied,
            ..Moves::default()
        }
    }

    /// Every event up to this seq is durable in the history.
    pub fn events_copied(&self) -> u64 {
        self.events_copied
    }

    /// Every event up to this seq is in the history once the flush job in flight is done.
    pub fn events_copied_or_copying(&self) -> u64 {
        self.events_copying.unwrap_or(self.events_copied)
    }

    /// Seq and time of each event the flush job in flight copies to the history.
    pub fn events_in_flight(&self) -> &[(u64, Millis)] {
        &self.events_in_flight
    }

    /// Notes live messages that became final at `at`.
    pub fn finished(&mut self, ids: Vec<MessageId>, at: Millis) {
        self.finished.extend(ids.into_iter().map(|id| (at, id)));
    }

    /// The flush job in flight is done: its copies are durable (readers may now read those
    /// events in the history).
    pub fn copies_durable(&mut self, shared: &Shared) {
        self.copied.append(&mut self.copying);
        if let Some(through) = self.events_copying.take() {
            self.events_in_flight.clear();
            self.events_copied = through;
            shared.events_in_history.store(through, Ordering::Release);
        }
    }
}

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

    /// Step 2: deletes the live copies of what the last flush made durable in the history,
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
