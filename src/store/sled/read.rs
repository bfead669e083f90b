//! Reads that need no writer: any task may await them while the writer works, and they see
//! every applied batch whole. On sled they answer from its page cache or the disk at once.

use super::SledStore;
use crate::store::error::StoreError;
use crate::store::event::StoredEvent;
use crate::store::layout::codec;
use crate::store::layout::event_run;
use crate::store::layout::keys;
use crate::store::layout::lookup::load;
use crate::store::reports::Tier;
use std::sync::atomic::Ordering;

use crate::message::{Kind, Message, MessageId, Millis};

impl SledStore {
    /// The message with this id, live or in the history tier. (A message moving between
    /// them is copied to the history before its live copy goes, so looking at the live store
    /// first never misses it.)
    pub async fn get(&self, id: MessageId) -> Result<Option<Message>, StoreError> {
        match load(&self.inner.db, id)? {
            Some(message) => Ok(Some(message)),
            None => self.inner.history.get(id),
        }
    }

    /// Which tier holds the message: the live store (while queued, in flight, awaiting a
    /// receipt, or moments after it finished), else the history; None if it holds neither.
    pub async fn tier_of(&self, id: MessageId) -> Result<Option<Tier>, StoreError> {
        if load(&self.inner.db, id)?.is_some() {
            return Ok(Some(Tier::Live));
        }
        Ok(self.inner.history.get(id)?.map(|_| Tier::History))
    }

    /// The message upstream handed over with this reference, live or in the history tier.
    pub async fn get_by_reference(&self, reference: &str) -> Result<Option<Message>, StoreError> {
        let hash = keys::reference_hash(reference);
        if let Some(bucket) = self.inner.db.get(keys::reference_bucket(hash))? {
            for (h, id) in codec::unpack_pairs(&bucket) {
                if h == hash
                    && let Some(message) = self.get(id).await?
                    && message.reference.as_deref() == Some(reference)
                {
                    return Ok(Some(message));
                }
            }
        }
        self.inner.history.get_by_reference(reference)
    }

    /// The message and part index an operator's message id (from submit_sm_resp) belongs to,
    /// live or in the history tier.
    pub async fn find_by_operator_id(
        &self,
        operator: &str,
        operator_id: &str,
    ) -> Result<Option<(MessageId, u32)>, StoreError> {
        let key = keys::operator_id(operator, operator_id);
        match self.inner.db.get(&key)? {
            Some(value) => Ok(codec::unpack_part_ref(&value)),
            None => self.inner.history.find_operator_key(&key),
        }
    }

    /// The due time of the earliest queued message of a kind's lane (it may lie in the future).
    pub async fn lane_head(&self, kind: Kind) -> Result<Option<Millis>, StoreError> {
        let first = self
            .inner
            .db
            .scan_prefix(keys::queue_lane(kind.lane()))
            .next()
            .transpose()?;
        Ok(first
            .and_then(|(k, _)| keys::queue_chunk_parts(&k))
            .map(|(_, due)| due))
    }

    /// The earliest deadline in the first stored chunk (a later chunk of the same bucket may
    /// hold an earlier one, so this is at most a bucket — a second — after the real one, and
    /// the watcher's tick bounds the wait anyway).
    pub async fn next_deadline(&self) -> Result<Option<Millis>, StoreError> {
        let first = self
            .inner
            .db
            .scan_prefix(keys::DEADLINE)
            .next()
            .transpose()?;
        Ok(first.and_then(|(k, v)| {
            let earliest = codec::unpack_deadlines(&v).iter().map(|e| e.when).min();
            earliest.or_else(|| keys::deadline_chunk_bucket(&k))
        }))
    }

    /// Up to `limit` events with a seq greater than `after`, oldest first, from both tiers.
    ///
    /// Every event up to `events_in_history` is in the history (unless trimmed), so a reader
    /// behind it whose page the history fills reads nothing else. Otherwise the live store is
    /// read first: an event missing there had already moved, and `events_in_history` said so
    /// before its live copy went, so the history read after it finds it. An event in both
    /// tiers while it moves is taken once.
    pub async fn read_events(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let moved = self.inner.shared.events_in_history.load(Ordering::Acquire);
        if after < moved {
            let older = self.history_events(after, moved, limit, u64::MAX)?;
            if older.len() == limit {
                return Ok(older);
            }
        }
        let mut out = self.live_events(after, limit)?;
        let in_history = self.inner.shared.events_in_history.load(Ordering::Acquire);
        if after < in_history {
            let live_from = out.first().map_or(u64::MAX, |e| e.seq);
            let mut older = self.history_events(after, in_history, limit, live_from)?;
            older.append(&mut out);
            out = older;
            out.truncate(limit);
        }
        Ok(out)
    }

    /// Up to `limit` events of the history with seqs in `(after, through]` and below `before`.
    fn history_events(
        &self,
        after: u64,
        through: u64,
        limit: usize,
        before: u64,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let rows = self.inner.history.events(after, through, limit)?;
        let mut out = Vec::with_capacity(rows.len());
        for (seq, _, bytes) in rows.into_iter().filter(|(seq, ..)| *seq < before) {
            let event = codec::decode(codec::EVENT_VERSION, &bytes, "event")?;
            out.push(StoredEvent { seq, event });
        }
        Ok(out)
    }

    /// The seq to read events after (see [`SledStore::read_events`]) so that the first one read is
    /// the first stamped `at` or later. Events are stamped as they are appended, so their
    /// times rise with their seqs and a binary search finds it in a few reads of either tier.
    pub async fn events_since(&self, at: Millis) -> Result<u64, StoreError> {
        // the answer lies in [low, high]: no event is after the last durable one
        let (mut low, mut high) = (0, *self.inner.shared.events.borrow());
        while low < high {
            let mid = low + (high - low) / 2;
            match self.read_events(mid, 1).await?.first() {
                // it and everything before it happened before `at`
                Some(first) if first.event.at() < at => low = first.seq.min(high),
                _ => high = mid,
            }
        }
        Ok(low)
    }

    /// Every event up to this seq has moved to the history tier.
    pub fn events_in_history(&self) -> u64 {
        self.inner.shared.events_in_history.load(Ordering::Acquire)
    }

    /// [`SledStore::read_events`] from the live store alone.
    fn live_events(&self, after: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        let wanted = keys::event(after.saturating_add(1));
        // the run holding the first wanted event starts at or before it
        let from = match self
            .inner
            .db
            .range(keys::EVENT.to_vec()..=wanted.clone())
            .next_back()
        {
            Some(kv) => kv?.0.to_vec(),
            None => wanted,
        };
        let mut out = Vec::new();
        for kv in self.inner.db.range(from..keys::prefix_end(keys::EVENT)) {
            let (k, v) = kv?;
            let first = keys::event_seq(&k).unwrap_or(0);
            let events = event_run::decode(first, &v)?;
            out.extend(events.into_iter().filter(|e| e.seq > after));
            if out.len() >= limit {
                out.truncate(limit);
                break;
            }
        }
        Ok(out)
    }

    /// The last event seq the named consumer acknowledged (0 if it never did).
    pub async fn cursor(&self, name: &str) -> Result<u64, StoreError> {
        let value = self.inner.db.get(keys::cursor(name))?;
        Ok(value.and_then(|v| codec::read_u64(&v, 0)).unwrap_or(0))
    }

    /// Bytes the store takes on disk.
    pub async fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.inner.db.size_on_disk()? + self.inner.history.size_on_disk())
    }
}
