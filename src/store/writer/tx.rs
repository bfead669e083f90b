//! One operation's write: its changes, readable back before they are applied (read-your-writes),
//! then staged with the rest of the writer's group, which is applied as a single sled batch
//! together with the writer's bookkeeping, so records, indexes, counters and events never
//! disagree after a crash. An operation that fails drops its own changes and nothing else.

use super::super::codec::{self, IntakeChunk};
use super::super::event::Event;
use super::super::{StoreError, keys};
use super::WriterState;
use super::flights::FlightChanges;
use super::layers::{self, KeyRange, Overlay, Staged, prefix_range};
use super::records::RecordCache;
use crate::message::{Message, MessageId};
use std::collections::HashMap;
use std::ops::Bound;

pub use super::layers::Entry;

/// Where a loaded record lives.
pub enum Home {
    /// Its own `m/` key.
    Own,
    /// Inside the intake chunk with this key.
    Intake(Vec<u8>),
}

/// Pending changes of one operation.
pub struct Tx {
    db: sled::Db,
    staged: Staged,
    records: RecordCache,
    writes: Overlay,
    /// Records this operation wrote: `Some` saved in a state the cache keeps, `None` otherwise.
    record_changes: HashMap<MessageId, Option<Message>>,
    base: WriterState,
    /// The writer's bookkeeping as this operation leaves it.
    pub state: WriterState,
    /// Events this operation appends, encoded, with their seqs.
    events: Vec<(u64, Vec<u8>)>,
    /// Ids this operation moved into and out of `submitting`.
    flights: FlightChanges,
}

/// What a finished operation leaves to the writer.
pub struct Staging {
    /// False when the operation changed nothing at all.
    pub changed: bool,
    /// The bookkeeping as the operation left it.
    pub state: WriterState,
    /// Ids the operation moved into and out of `submitting` (their in-flight runs are the
    /// writer's to keep).
    pub flights: FlightChanges,
}

impl Tx {
    /// Starts a write on top of the staged changes, the store and the bookkeeping.
    pub fn new(db: &sled::Db, staged: &Staged, records: &RecordCache, state: &WriterState) -> Self {
        Tx {
            db: db.clone(),
            staged: staged.clone(),
            records: records.clone(),
            writes: Overlay::new(),
            record_changes: HashMap::new(),
            base: state.clone(),
            state: state.clone(),
            events: Vec::new(),
            flights: FlightChanges::default(),
        }
    }

    /// True when nothing was changed.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty() && self.events.is_empty() && self.flights.entered.is_empty()
    }

    /// Notes that a message is now `submitting`.
    pub fn take_off(&mut self, id: MessageId) {
        self.flights.entered.push(id);
    }

    /// Notes that a message has left `submitting`.
    pub fn land(&mut self, id: MessageId) {
        self.flights.left.push(id);
    }

    /// Reads a key, seeing this operation's own changes and the staged ones.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(v) = self.writes.get(key) {
            return Ok(v.clone());
        }
        if let Some(v) = self.staged.lock().writes.get(key) {
            return Ok(v.clone());
        }
        Ok(self.db.get(key)?.map(|v| v.to_vec()))
    }

    /// Sets a key.
    pub fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.forget_cached(&key);
        self.writes.insert(key, Some(value));
    }

    /// Removes a key.
    pub fn remove(&mut self, key: Vec<u8>) {
        self.forget_cached(&key);
        self.writes.insert(key, None);
    }

    /// A record written other than by [`Tx::save`] is no longer the cache's to answer.
    fn forget_cached(&mut self, key: &[u8]) {
        if let Some(id) = key
            .strip_prefix(keys::RECORD)
            .and_then(|id| keys::read_u64(id, 0))
        {
            self.record_changes.insert(MessageId(id), None);
        }
    }

    /// The first live entry of a range (reverse: the last), seeing every layer; with `own`
    /// false, without this operation's own changes.
    fn first_live(
        &self,
        range: &KeyRange,
        rev: bool,
        own: bool,
        mut pred: impl FnMut(&[u8]) -> bool,
    ) -> Result<Option<Entry>, StoreError> {
        let group = self.staged.lock();
        let layers: Vec<&Overlay> = if own {
            vec![&self.writes, &group.writes]
        } else {
            vec![&group.writes]
        };
        for entry in layers::live(&layers, &self.db, range, rev) {
            let (k, v) = entry?;
            if pred(&v) {
                return Ok(Some((k, v)));
            }
        }
        Ok(None)
    }

    /// The first key under a prefix, seeing this operation's changes, without scanning it all.
    pub fn first_in_prefix(&self, prefix: &[u8]) -> Result<Option<Entry>, StoreError> {
        self.first_live(&prefix_range(prefix), false, true, |_| true)
    }

    /// The first key of a range, seeing this operation's changes.
    pub fn first_in_range(
        &self,
        range: std::ops::Range<Vec<u8>>,
    ) -> Result<Option<Entry>, StoreError> {
        let range = (Bound::Included(range.start), Bound::Excluded(range.end));
        self.first_live(&range, false, true, |_| true)
    }

    /// The last key under a prefix, seeing this operation's changes, without scanning it all.
    pub fn last_in_prefix(&self, prefix: &[u8]) -> Result<Option<Entry>, StoreError> {
        self.first_live(&prefix_range(prefix), true, true, |_| true)
    }

    /// Finds the first key under a prefix whose value satisfies `pred`, visiting keys lazily
    /// and stopping at the first match.
    pub fn find_in_prefix(
        &self,
        prefix: &[u8],
        pred: impl FnMut(&[u8]) -> bool,
    ) -> Result<Option<Entry>, StoreError> {
        self.first_live(&prefix_range(prefix), false, true, pred)
    }

    /// Up to `limit` entries of a key range as the store holds them with the staged changes
    /// (without this operation's own changes: call it before making any).
    pub fn db_range(
        &self,
        range: std::ops::Range<Vec<u8>>,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        let range = (Bound::Included(range.start), Bound::Excluded(range.end));
        let group = self.staged.lock();
        layers::live(&[&group.writes], &self.db, &range, false)
            .take(limit)
            .collect()
    }

    /// Loads a record wherever it lives.
    pub fn load(&self, id: MessageId) -> Result<Option<(Message, Home)>, StoreError> {
        let cached = match self.record_changes.get(&id) {
            Some(change) => change.clone(), // None: read this operation's own write below
            None => self.records.get(id),
        };
        if let Some(message) = cached {
            return Ok(Some((message, Home::Own)));
        }
        if let Some(bytes) = self.get(&keys::record(id))? {
            return Ok(Some((codec::decode_record(&bytes)?, Home::Own)));
        }
        let Some((chunk_key, bytes)) = self.intake_chunk_of(id)? else {
            return Ok(None);
        };
        match IntakeChunk::find(&bytes, id) {
            Some(record) => Ok(Some((
                codec::decode_record(record)?,
                Home::Intake(chunk_key),
            ))),
            None => Ok(None),
        }
    }

    /// Loads a record to change it: a record still in an intake chunk is first moved, with
    /// the rest of its chunk, to keys of their own.
    pub fn load_for_update(&mut self, id: MessageId) -> Result<Message, StoreError> {
        let (message, home) = self.load(id)?.ok_or(StoreError::NotFound(id))?;
        if let Home::Intake(chunk_key) = home {
            self.materialize(chunk_key)?;
        }
        Ok(message)
    }

    /// Moves every record of an intake chunk to its own key and drops the chunk.
    pub fn materialize(&mut self, chunk_key: Vec<u8>) -> Result<(), StoreError> {
        let Some(bytes) = self.get(&chunk_key)? else {
            return Ok(());
        };
        for (id, record) in IntakeChunk::decode(&bytes)?.records {
            self.put(keys::record(id), record);
        }
        self.remove(chunk_key);
        Ok(())
    }

    /// The intake chunk whose id range could hold `id` (the last chunk starting at or before it).
    fn intake_chunk_of(&self, id: MessageId) -> Result<Option<Entry>, StoreError> {
        let range = (
            Bound::Included(keys::INTAKE.to_vec()),
            Bound::Included(keys::intake(id)),
        );
        self.first_live(&range, true, true, |_| true)
    }

    /// Writes a record to its own key.
    pub fn save(&mut self, message: &Message) -> Result<(), StoreError> {
        let bytes = codec::encode_record(message)?;
        self.writes.insert(keys::record(message.id), Some(bytes));
        let kept = RecordCache::keeps(message.state).then(|| message.clone());
        self.record_changes.insert(message.id, kept);
        Ok(())
    }

    /// Appends an event to the log.
    pub fn emit(&mut self, event: Event) -> Result<(), StoreError> {
        self.state.event_seq += 1;
        let seq = self.state.event_seq;
        self.events
            .push((seq, codec::encode(codec::EVENT_VERSION, &event)?));
        Ok(())
    }

    /// A fresh sequence number for a chunk key.
    pub fn next_chunk_seq(&mut self) -> u64 {
        self.state.chunk_seq += 1;
        self.state.chunk_seq
    }

    /// Ends the operation: its changes join the staged group (applied to sled with it).
    pub fn stage(self) -> Staging {
        let changed = !(self.is_empty() && self.state == self.base);
        self.staged.add(self.writes, self.events);
        self.records.adopt(self.record_changes);
        Staging {
            changed,
            state: self.state,
            flights: self.flights,
        }
    }
}
