//! The live store's engine: sled 0.34, behind the few calls the store makes of it. This is
//! the only folder that names sled; the key layout ([`super::keys`], [`super::codec`]) and the
//! message rules ([`super::writer`]) above it see ordered byte keys and atomic batches only.
//!
//! What works around sled's own costs and faults lives here: opening without trusting a
//! damaged log ([`open`]), the fsync its flush leaves out ([`log_sync`]) and its I/O pool's
//! CPU priority ([`priority`]). The layers above are shaped by four of its traits, and say so
//! where it matters:
//!
//! - sled 0.34 splits leaves at 16 entries and keeps about 200 bytes of RAM per page, so write
//!   cost and memory follow the number of keys: untouched queued messages are packed many to
//!   a key (intake chunks, queue and deadline chunks in `layout/keys.rs`), a group's events
//!   share one key (`layout/event_run.rs`), one claim marks its run with one key
//!   (`writer/flights.rs`);
//! - its cost per batch dwarfs its cost per key, so the writer stages a group's changes with
//!   read-your-writes (`writer/layers.rs`, `writer/tx.rs`) and applies them as one batch, and
//!   keeps decoded in-flight records (`writer/records.rs`) rather than read them back;
//! - its log keeps every version of a long-lived key, so nothing that finished stays in the
//!   live store: finished messages, their deadline entries and events move to the history
//!   (`writer/moves.rs`, `writer/chunks.rs`);
//! - an I/O error sticks until it is reopened, so the first one stops the writer
//!   (`writer/failure.rs`) and the daemon restarts.

pub mod log_sync;
pub mod open;
pub mod priority;

use crate::store::error::StoreError;
use std::ops::RangeBounds;

/// A value (or key) read from the engine: a cheap, reference-counted byte slice.
pub type Bytes = sled::IVec;

/// One key and its value, as a walk over the engine yields them.
pub type Pair = (Bytes, Bytes);

/// The live store's ordered key space (a cheap handle: clones share the database).
#[derive(Clone)]
pub struct Db(sled::Db);

/// Writes applied together, all or nothing ([`Db::apply`]).
#[derive(Default)]
pub struct Batch(sled::Batch);

impl Batch {
    /// Sets `key` to `value`.
    pub fn insert(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) {
        self.0.insert(key.as_ref(), value.as_ref());
    }

    /// Removes `key`.
    pub fn remove(&mut self, key: impl AsRef<[u8]>) {
        self.0.remove(key.as_ref());
    }
}

impl Db {
    /// The value of `key`.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>, StoreError> {
        Ok(self.0.get(key)?)
    }

    /// True when `key` has a value.
    pub fn contains_key(&self, key: impl AsRef<[u8]>) -> Result<bool, StoreError> {
        Ok(self.0.contains_key(key)?)
    }

    /// The smallest key and its value.
    pub fn first(&self) -> Result<Option<Pair>, StoreError> {
        Ok(self.0.first()?)
    }

    /// The keys in `range`, in order (or reversed, as a double-ended iterator).
    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(
        &self,
        range: R,
    ) -> impl DoubleEndedIterator<Item = Result<Pair, StoreError>> + use<K, R> {
        self.0.range(range).map(|kv| kv.map_err(StoreError::from))
    }

    /// The keys starting with `prefix`, in order.
    pub fn scan_prefix<P: AsRef<[u8]>>(
        &self,
        prefix: P,
    ) -> impl DoubleEndedIterator<Item = Result<Pair, StoreError>> + use<P> {
        self.0
            .scan_prefix(prefix)
            .map(|kv| kv.map_err(StoreError::from))
    }

    /// Sets one key outside a batch (opening's bookkeeping only).
    pub fn insert(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<(), StoreError> {
        self.0.insert(key.as_ref(), value.as_ref())?;
        Ok(())
    }

    /// Applies `batch` atomically (readers see all of it or none).
    pub fn apply(&self, batch: Batch) -> Result<(), StoreError> {
        Ok(self.0.apply_batch(batch.0)?)
    }

    /// Writes what was applied to the log (durable only with [`log_sync::LogSync::sync`]).
    pub fn flush(&self) -> Result<(), StoreError> {
        self.0.flush()?;
        Ok(())
    }

    /// A database in memory, gone when dropped (for tests).
    #[cfg(test)]
    pub fn temporary() -> Db {
        Db(sled::Config::new()
            .temporary(true)
            .open()
            .expect("a temporary database"))
    }

    /// Bytes the database takes on disk.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.0.size_on_disk()?)
    }
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        let what = match &e {
            sled::Error::Io(io) => format!("I/O error: {}", super::error::io_sentence(io)),
            other => other.to_string(),
        };
        StoreError::storage(what, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error;

    #[test]
    fn a_storage_failure_says_what_and_keeps_its_cause() {
        let io = std::io::Error::from(std::io::ErrorKind::StorageFull);
        let e = StoreError::from(sled::Error::Io(io)).in_context("cannot open /data/store");
        assert_eq!(
            e.to_string(),
            "storage failure: cannot open /data/store: I/O error: No space left on device"
        );
        let cause = e
            .source()
            .and_then(|c| c.source())
            .expect("the cause is kept");
        let sled = cause
            .downcast_ref::<sled::Error>()
            .expect("sled's own error");
        assert!(
            matches!(sled, sled::Error::Io(io) if io.kind() == std::io::ErrorKind::StorageFull)
        );
    }
}
