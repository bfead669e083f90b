//! One atomic write: the changes of one operation, readable back before they are applied
//! (read-your-writes), then applied as a single sled batch together with the writer's
//! bookkeeping, so records, indexes, counters and events never disagree after a crash.

use super::super::codec::{self, IntakeChunk};
use super::super::event::{Event, StoredEvent};
use super::super::{StoreError, keys};
use super::WriterState;
use crate::message::{Message, MessageId};
use std::collections::{BTreeMap, btree_map};
use std::ops::Bound;

/// A stored key and its value.
pub type Entry = (Vec<u8>, Vec<u8>);

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
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    base: WriterState,
    /// The writer's bookkeeping as this operation leaves it.
    pub state: WriterState,
    /// Events this operation appends.
    pub events: Vec<StoredEvent>,
}

impl Tx {
    /// Starts a write on top of the current store and bookkeeping.
    pub fn new(db: &sled::Db, state: &WriterState) -> Self {
        Tx {
            db: db.clone(),
            writes: BTreeMap::new(),
            base: state.clone(),
            state: state.clone(),
            events: Vec::new(),
        }
    }

    /// True when nothing was changed.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty() && self.events.is_empty()
    }

    /// Reads a key, seeing this operation's own changes.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        match self.writes.get(key) {
            Some(v) => Ok(v.clone()),
            None => Ok(self.db.get(key)?.map(|v| v.to_vec())),
        }
    }

    /// Sets a key.
    pub fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.writes.insert(key, Some(value));
    }

    /// Removes a key.
    pub fn remove(&mut self, key: Vec<u8>) {
        self.writes.insert(key, None);
    }

    /// The first key under a prefix, seeing this operation's changes, without scanning it all.
    pub fn first_in_prefix(&self, prefix: &[u8]) -> Result<Option<Entry>, StoreError> {
        let mut from_db = None;
        for kv in self.db.scan_prefix(prefix) {
            let (k, v) = kv?;
            match self.writes.get(k.as_ref()) {
                Some(None) => continue,
                Some(Some(v)) => from_db = Some((k.to_vec(), v.clone())),
                None => from_db = Some((k.to_vec(), v.to_vec())),
            }
            break;
        }
        let from_overlay = self
            .overlay_range(prefix)
            .find_map(|(k, v)| v.as_ref().map(|v| (k.clone(), v.clone())));
        Ok(match (from_db, from_overlay) {
            (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
            (a, b) => a.or(b),
        })
    }

    /// The last key under a prefix, seeing this operation's changes, without scanning it all.
    pub fn last_in_prefix(&self, prefix: &[u8]) -> Result<Option<Entry>, StoreError> {
        let mut from_db = None;
        let mut iter = self.db.scan_prefix(prefix);
        while let Some(kv) = iter.next_back() {
            let (k, v) = kv?;
            match self.writes.get(k.as_ref()) {
                Some(None) => continue,
                Some(Some(v)) => from_db = Some((k.to_vec(), v.clone())),
                None => from_db = Some((k.to_vec(), v.to_vec())),
            }
            break;
        }
        let from_overlay = self
            .overlay_range(prefix)
            .rev()
            .find_map(|(k, v)| v.as_ref().map(|v| (k.clone(), v.clone())));
        Ok(match (from_db, from_overlay) {
            (Some(a), Some(b)) => Some(if a.0 >= b.0 { a } else { b }),
            (a, b) => a.or(b),
        })
    }

    /// Finds the first key under a prefix whose value satisfies `pred`, visiting keys lazily
    /// (this operation's changed keys first, then the store's) and stopping at the first match.
    pub fn find_in_prefix(
        &self,
        prefix: &[u8],
        mut pred: impl FnMut(&[u8]) -> bool,
    ) -> Result<Option<Entry>, StoreError> {
        for (k, v) in self.overlay_range(prefix) {
            if let Some(v) = v
                && pred(v)
            {
                return Ok(Some((k.clone(), v.clone())));
            }
        }
        for kv in self.db.scan_prefix(prefix) {
            let (k, v) = kv?;
            if self.writes.contains_key(k.as_ref()) {
                continue;
            }
            if pred(&v) {
                return Ok(Some((k.to_vec(), v.to_vec())));
            }
        }
        Ok(None)
    }

    /// Up to `limit` stored entries of a key range, as the store holds them (without this
    /// operation's own changes: call it before making any).
    pub fn db_range(
        &self,
        range: std::ops::Range<Vec<u8>>,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        self.db
            .range(range)
            .take(limit)
            .map(|kv| {
                kv.map(|(k, v)| (k.to_vec(), v.to_vec()))
                    .map_err(StoreError::from)
            })
            .collect()
    }

    fn overlay_range(&self, prefix: &[u8]) -> btree_map::Range<'_, Vec<u8>, Option<Vec<u8>>> {
        let end = keys::prefix_end(prefix);
        self.writes
            .range::<[u8], _>((Bound::Included(prefix), Bound::Excluded(end.as_slice())))
    }

    /// Loads a record wherever it lives.
    pub fn load(&self, id: MessageId) -> Result<Option<(Message, Home)>, StoreError> {
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
        let upper = keys::intake(id);
        let found = self
            .db
            .range(keys::INTAKE.to_vec()..=upper)
            .next_back()
            .transpose()?;
        let Some((key, value)) = found else {
            return Ok(None);
        };
        match self.writes.get(key.as_ref()) {
            Some(None) => Ok(None),
            Some(Some(v)) => Ok(Some((key.to_vec(), v.clone()))),
            None => Ok(Some((key.to_vec(), value.to_vec()))),
        }
    }

    /// Writes a record to its own key.
    pub fn save(&mut self, message: &Message) -> Result<(), StoreError> {
        let bytes = codec::encode_record(message)?;
        self.put(keys::record(message.id), bytes);
        Ok(())
    }

    /// Appends an event to the log.
    pub fn emit(&mut self, event: Event) -> Result<(), StoreError> {
        self.state.event_seq += 1;
        let seq = self.state.event_seq;
        self.put(
            keys::event(seq),
            codec::encode(codec::EVENT_VERSION, &event)?,
        );
        self.events.push(StoredEvent { seq, event });
        Ok(())
    }

    /// A fresh sequence number for a chunk key.
    pub fn next_chunk_seq(&mut self) -> u64 {
        self.state.chunk_seq += 1;
        self.state.chunk_seq
    }

    /// Applies everything as one atomic batch; returns the new bookkeeping and the events.
    pub fn commit(mut self) -> Result<(WriterState, Vec<StoredEvent>), StoreError> {
        if self.is_empty() && self.state == self.base {
            return Ok((self.state, self.events));
        }
        let state_bytes = codec::encode(codec::STATE_VERSION, &self.state)?;
        self.writes
            .insert(keys::WRITER_STATE.to_vec(), Some(state_bytes));
        let mut batch = sled::Batch::default();
        for (k, v) in self.writes {
            match v {
                Some(v) => batch.insert(k, v),
                None => batch.remove(k),
            }
        }
        self.db.apply_batch(batch)?;
        Ok((self.state, self.events))
    }
}
