//! One operation's write: its changes, readable back before they are applied (read-your-writes),
//! then staged with the rest of the writer's group, which is applied as a single batch
//! together with the writer's bookkeeping, so records, indexes, counters and events never
//! disagree after a crash. An operation that fails drops its own changes and nothing else.

use super::flights::FlightChanges;
use super::history_view::HistoryView;
use super::layers::{self, KeyRange, Overlay, Staged, prefix_range};
use super::records::RecordCache;
use super::state::WriterState;
use crate::message::{Message, MessageId};
use crate::store::engine::Db;
use crate::store::error::StoreError;
use crate::store::event::Event;
use crate::store::history::HistoryWrite;
use crate::store::layout::codec::{self, IntakeChunk};
use crate::store::layout::keys;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::ops::Bound;

pub use super::layers::Entry;

/// Where a loaded record lives.
pub enum Home {
    /// Its own `m/` key.
    Own,
    /// Inside the intake chunk with this key.
    Intake(Vec<u8>),
    /// In the history tier (it finished and moved there).
    History,
}

/// Pending changes of one operation.
pub struct Tx {
    db: Db,
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
    /// The history tier as the writer sees it (with its writes not yet durable).
    history: HistoryView,
    /// Records this operation read from the history tier: saving one writes it there.
    from_history: RefCell<HashSet<MessageId>>,
    /// This operation's writes to the history tier, and what they leave there (read back).
    history_writes: Vec<HistoryWrite>,
    history_changes: HashMap<MessageId, Option<Message>>,
    /// Live messages this operation made final (they move to the history tier later).
    finished: Vec<MessageId>,
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
    /// Writes to the history tier (made durable by the next flush).
    pub history_writes: Vec<HistoryWrite>,
    /// Live messages the operation made final.
    pub finished: Vec<MessageId>,
}

impl Tx {
    /// Starts a write on top of the staged changes, the store and the bookkeeping.
    pub fn new(
        db: &Db,
        staged: &Staged,
        records: &RecordCache,
        state: &WriterState,
        history: &HistoryView,
    ) -> Self {
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
            history: history.clone(),
            from_history: RefCell::default(),
            history_writes: Vec::new(),
            history_changes: HashMap::new(),
            finished: Vec::new(),
        }
    }

    /// Notes that a live message became final (it moves to the history tier later).
    pub fn finished(&mut self, id: MessageId) {
        if !self.from_history.borrow().contains(&id) {
            self.finished.push(id);
        }
    }

    /// Up to `limit` messages of the history tier with ids in `(after, below)`, as this
    /// operation and the writes not yet durable leave them.
    pub fn history_page(
        &self,
        after: MessageId,
        below: MessageId,
        limit: usize,
    ) -> Result<Vec<Message>, StoreError> {
        let page = self.history.history().page(after, below, limit)?;
        let mut out = Vec::with_capacity(page.len());
        for message in page {
            let id = message.id;
            let now = match self.history_changes.get(&id) {
                Some(change) => change.clone(),
                None => self.history.get(id)?,
            };
            out.extend(now);
        }
        Ok(out)
    }

    /// True when the history tier holds (or is about to hold) the message.
    pub fn in_history(&self, id: MessageId) -> Result<bool, StoreError> {
        Ok(match self.history_changes.get(&id) {
            Some(change) => change.is_some(),
            None => self.history.get(id)?.is_some(),
        })
    }

    /// The message and part of an operator-id key in the history tier.
    pub fn history_operator_key(&self, key: &[u8]) -> Result<Option<(MessageId, u32)>, StoreError> {
        self.history.history().find_operator_key(key)
    }

    /// The id and state of each of `references` found in the history tier.
    pub fn history_references(
        &self,
        references: &[&str],
    ) -> Result<HashMap<String, (MessageId, crate::message::State)>, StoreError> {
        self.history.history().references(references)
    }

    /// Writes (or forgets) a message in the history tier.
    pub fn write_history(&mut self, write: HistoryWrite) {
        let left = match &write {
            HistoryWrite::Put(m) => Some((**m).clone()),
            HistoryWrite::Forget(_) => None,
            HistoryWrite::Events(_) | HistoryWrite::TrimEvents { .. } => {
                self.history_writes.push(write);
                return;
            }
        };
        if let Some(id) = write.id() {
            self.history_changes.insert(id, left);
        }
        self.history_writes.push(write);
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
            .and_then(|id| codec::read_u64(id, 0))
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

    /// Loads a record wherever it lives: the live store, else the history tier.
    pub fn load(&self, id: MessageId) -> Result<Option<(Message, Home)>, StoreError> {
        if let Some(live) = self.load_live(id)? {
            return Ok(Some(live));
        }
        let moved = match self.history_changes.get(&id) {
            Some(change) => change.clone(),
            None => self.history.get(id)?,
        };
        Ok(moved.map(|message| {
            self.from_history.borrow_mut().insert(id);
            (message, Home::History)
        }))
    }

    /// Loads a record from the live store only (a message in the history tier is finished:
    /// the queue, the in-flight runs and the deadlines have nothing more to do with it).
    pub fn load_live(&self, id: MessageId) -> Result<Option<(Message, Home)>, StoreError> {
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

    /// Writes a record to its own key (or, read from the history tier, back there).
    pub fn save(&mut self, message: &Message) -> Result<(), StoreError> {
        if self.from_history.borrow().contains(&message.id) {
            self.write_history(HistoryWrite::Put(Box::new(message.clone())));
            return Ok(());
        }
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

    /// Ends the operation: its changes join the staged group (applied to the engine with it).
    pub fn stage(self) -> Staging {
        let changed = !(self.writes.is_empty()
            && self.events.is_empty()
            && self.flights.entered.is_empty()
            && self.state == self.base);
        self.staged.add(self.writes, self.events);
        self.records.adopt(self.record_changes);
        Staging {
            changed,
            state: self.state,
            flights: self.flights,
            history_writes: self.history_writes,
            finished: self.finished,
        }
    }
}
