//! Read-only walks over the queue and in-flight indexes, for `khabar status`: the head of a
//! lane in the order it will be sent, and the messages handed to a session. Like the reads in
//! [`read`](super::read), they need no writer and see every applied batch whole; a message the
//! writer moves between two reads is simply skipped. Each walk reads many records, so it runs
//! on tokio's blocking pool rather than on the task that awaits it.

use super::Inner;
use super::SledStore;
use crate::message::{Kind, Message, Millis, State};
use crate::store::error::StoreError;
use crate::store::layout::codec;
use crate::store::layout::keys;
use crate::store::layout::lookup::load;
use crate::store::reports::AwaitingReceipt;
use std::sync::{Arc, Weak};

/// A handle that does not keep the store open: background observers hold it so that dropping
/// the last [`SledStore`] still shuts the writer down and releases the database.
#[derive(Clone)]
pub struct WeakSled(Weak<Inner>);

impl WeakSled {
    /// The store, if it is still open.
    pub fn upgrade(&self) -> Option<SledStore> {
        self.0.upgrade().map(|inner| SledStore { inner })
    }
}

impl SledStore {
    /// A handle to this store that does not keep it open.
    pub fn downgrade(&self) -> WeakSled {
        WeakSled(Arc::downgrade(&self.inner))
    }

    /// The first `limit` queued messages of `kind`'s lane with their due times, in the order
    /// the scheduler will claim them (due time, then arrival). Reads at most `limit` records.
    pub async fn queued_head(
        &self,
        kind: Kind,
        limit: usize,
    ) -> Result<Vec<(Millis, Message)>, StoreError> {
        let store = self.clone();
        blocking(move || store.walk_queued_head(kind, limit)).await
    }

    /// [`SledStore::queued_head`], on the caller's thread.
    fn walk_queued_head(
        &self,
        kind: Kind,
        limit: usize,
    ) -> Result<Vec<(Millis, Message)>, StoreError> {
        let mut head = Vec::new();
        for chunk in self.inner.db.scan_prefix(keys::queue_lane(kind.lane())) {
            if head.len() >= limit {
                break;
            }
            let (key, ids) = chunk?;
            let Some((_, due)) = keys::queue_chunk_parts(&key) else {
                continue;
            };
            for id in codec::unpack_ids(&ids) {
                if head.len() >= limit {
                    break;
                }
                // claimed or cancelled since the chunk was read: no longer queued
                if let Some(message) = load(&self.inner.db, id)?
                    && message.state == State::Queued
                {
                    head.push((due, message));
                }
            }
        }
        Ok(head)
    }

    /// Up to `limit` messages handed to a session whose submit response is not yet seen
    /// (`submitting`), in id order.
    pub async fn in_flight(&self, limit: usize) -> Result<Vec<Message>, StoreError> {
        let store = self.clone();
        blocking(move || store.walk_in_flight(limit)).await
    }

    /// [`SledStore::in_flight`], on the caller's thread.
    fn walk_in_flight(&self, limit: usize) -> Result<Vec<Message>, StoreError> {
        let mut found = Vec::new();
        for marker in self.inner.db.scan_prefix(keys::IN_FLIGHT) {
            let (key, value) = marker?;
            for id in keys::in_flight_ids(&key, &value) {
                if found.len() >= limit {
                    return Ok(found);
                }
                // a run still names the ids of it that have landed
                if let Some(message) = load(&self.inner.db, id)?
                    && message.state == State::Submitting
                {
                    found.push(message);
                }
            }
        }
        Ok(found)
    }

    /// Every live message that awaits its receipt or whose receipt is overdue, read from the
    /// records with their own keys (a message is given its own key when it is claimed or
    /// changed; the intake chunks hold only messages never touched since accepted). One pass
    /// over the live records: for a status tracker starting up, not for a hot path.
    pub async fn awaiting_receipts(&self) -> Result<Vec<AwaitingReceipt>, StoreError> {
        let store = self.clone();
        blocking(move || store.walk_awaiting_receipts()).await
    }

    /// [`SledStore::awaiting_receipts`], on the caller's thread.
    fn walk_awaiting_receipts(&self) -> Result<Vec<AwaitingReceipt>, StoreError> {
        let mut found = Vec::new();
        for kv in self.inner.db.scan_prefix(keys::RECORD) {
            let (_, bytes) = kv?;
            let message = codec::decode_record(&bytes)?;
            if message.state.is_final() {
                continue;
            }
            let overdue = message.extra.receipt_overdue_at.and(message.receipt_by);
            if message.state == State::Submitted || overdue.is_some() {
                found.push(AwaitingReceipt {
                    id: message.id,
                    kind: message.kind,
                    submitted: message.state == State::Submitted,
                    overdue,
                });
            }
        }
        Ok(found)
    }
}

/// Runs a walk on tokio's blocking pool; a walk that panicked panics here too.
async fn blocking<T: Send + 'static>(
    walk: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    match tokio::task::spawn_blocking(walk).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => Err(StoreError::Closed),
    }
}
