//! The history tier as the writer sees it: what SQLite has committed, under the writes its
//! flush jobs have not made durable yet (the writer reads its own writes before they land).

use crate::message::{Message, MessageId};
use crate::store::counts::Counts;
use crate::store::error::StoreError;
use crate::store::history::{History, HistoryWrite};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

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
        let pending: Vec<(MessageId, Option<Message>)> = (self.lock().iter())
            .map(|(id, (_, m))| (*id, m.clone()))
            .collect();
        let ids: Vec<MessageId> = pending.iter().map(|(id, _)| *id).collect();
        // one snapshot: the flusher may commit some of the pending writes meanwhile
        let (committed, before) = self.history.counts_and_states(&ids)?;
        let mut counts = Counts::default();
        for (kind, state, n) in committed {
            counts.add_many(kind, state, n);
        }
        for ((_, now), before) in pending.into_iter().zip(before) {
            if let Some((kind, state)) = before {
                counts.remove(kind, state);
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
