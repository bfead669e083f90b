//! Proactive-service requests (seed 002): a durable registry of the requests awaiting a reply,
//! matching of mobile-originated replies to them, and the closing of windows that passed
//! unanswered.
//!
//! A `request` is registered when it is submitted to the operator; its reply window (24 h by
//! default) runs from the submission and starts again from the operator's delivery receipt
//! when that comes. A reply from the recipient's number inside the window answers the newest
//! open request for that number; **one reply closes a request**, so a second reply goes to the
//! next older open request of that number, if any, or is unmatched. When a window closes
//! unanswered, [`WindowCloser`] queues the follow-up notification exactly once and tells
//! upstream with a `reply_window_closed` event.
//!
//! The registry lives in its own sled database at `<data dir>/requests`. Its methods are
//! synchronous and flush to disk before they return (run them in `spawn_blocking`, or use the
//! async helpers of [`hooks`]).

mod closer;
mod db;
pub mod hooks;
mod keys;
mod record;
#[cfg(test)]
mod tests;

pub use closer::{FOLLOW_UP_TEMPLATE, NO_REPLY, RoundError, WindowCloser, follow_up_reference};
pub use record::OpenRequest;

use crate::message::{MessageId, Millis};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// The sled tree of records and indexes (see [`keys`]).
const TREE: &str = "requests";

/// Why a registry operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// An argument cannot be stored (e.g. a recipient longer than 255 bytes).
    #[error("{0}")]
    Invalid(String),
    /// Storage trouble: the database cannot be opened, read, written or flushed.
    #[error("requests storage: {0}")]
    Storage(String),
}

/// The open requests, on disk.
pub struct RequestRegistry {
    db: sled::Db,
    log: crate::store::engine::log_sync::LogSync,
    tree: sled::Tree,
    path: PathBuf,
    /// Serialises read-modify-write of records (one process owns the db and request traffic is
    /// light, so a plain mutex is simpler than sled transactions with retries).
    write: Mutex<()>,
}

impl fmt::Debug for RequestRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestRegistry")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl RequestRegistry {
    /// Opens (or creates) the registry at `<dir>/requests`. Blocking.
    pub fn open(dir: &Path) -> Result<RequestRegistry, RequestError> {
        let path = dir.join("requests");
        let (db, log) = db::open(&path)?;
        let tree = db.open_tree(TREE).map_err(|e| storage("open", e))?;
        Ok(RequestRegistry {
            db,
            log,
            tree,
            path,
            write: Mutex::new(()),
        })
    }

    /// Registers request `id` to `recipient` (E.164 digits), whose window of `window_ms`
    /// starts at `opened_at`. A request already registered (e.g. submitted again after a
    /// restart) is left as it is. Returns whether it was new. Durable when it returns.
    pub fn register(
        &self,
        id: MessageId,
        recipient: &str,
        window_ms: i64,
        follow_up: Option<String>,
        opened_at: Millis,
    ) -> Result<bool, RequestError> {
        let by_number = keys::by_number(recipient, id).ok_or_else(|| {
            RequestError::Invalid(format!(
                "a recipient of {} bytes is too long to register",
                recipient.len()
            ))
        })?;
        let _guard = self.lock();
        if self.load(id)?.is_some() {
            return Ok(false);
        }
        let request = OpenRequest {
            id,
            recipient: recipient.to_owned(),
            window_ms,
            follow_up,
            opened_at,
            answered_at: None,
        };
        let mut changes = Changes::default();
        changes.insert(keys::record(id), request.encode()?);
        changes.insert(by_number, &[]);
        changes.insert(keys::closing(request.closes_at(), id), &[]);
        self.apply(changes)?;
        Ok(true)
    }

    /// Starts request `id`'s window again at `at` (its delivery receipt came). Nothing happens
    /// to a request that is unknown, closed, answered, or whose window started at or after
    /// `at`. Returns whether the window moved. Durable when it returns.
    pub fn restart_window(&self, id: MessageId, at: Millis) -> Result<bool, RequestError> {
        let _guard = self.lock();
        let Some(mut request) = self.load(id)? else {
            return Ok(false);
        };
        if request.answered_at.is_some() || at <= request.opened_at {
            return Ok(false);
        }
        let mut changes = Changes::default();
        changes.remove(keys::closing(request.closes_at(), id));
        request.opened_at = at;
        changes.insert(keys::closing(request.closes_at(), id), &[]);
        changes.insert(keys::record(id), request.encode()?);
        self.apply(changes)?;
        Ok(true)
    }

    /// Matches a reply from `from` (E.164 digits) at `now` to the newest request for that
    /// number whose window is still open and which no reply answered yet, and marks it
    /// answered: one reply closes a request. None when no request is waiting for that number.
    /// Durable when it returns.
    pub fn match_reply(&self, from: &str, now: Millis) -> Result<Option<MessageId>, RequestError> {
        let Some(prefix) = keys::number_prefix(from) else {
            return Ok(None);
        };
        let _guard = self.lock();
        let mut changes = Changes::default();
        let mut matched = None;
        for entry in self.tree.scan_prefix(&prefix).rev() {
            let (key, _) = entry.map_err(|e| storage("read", e))?;
            let Some(id) = keys::trailing_id(&key) else {
                continue;
            };
            match self.load(id)? {
                // an index entry without its record: tidy it away
                None => changes.remove(key),
                Some(mut request) if request.is_open_at(now) => {
                    request.answered_at = Some(now);
                    changes.insert(keys::record(id), request.encode()?);
                    changes.remove(key);
                    matched = Some(id);
                    break;
                }
                // the window has closed: the closer will deal with it
                Some(_) => {}
            }
        }
        self.apply(changes)?;
        Ok(matched)
    }

    /// Up to `limit` requests whose window closed at or before `now` without a reply, the
    /// earliest-closing first. They stay registered until [`close`](Self::close)d, so a crash
    /// before that shows them again. Answered requests whose window has passed are forgotten
    /// along the way (durably).
    pub fn due(&self, now: Millis, limit: usize) -> Result<Vec<OpenRequest>, RequestError> {
        let _guard = self.lock();
        let mut changes = Changes::default();
        let mut due = Vec::new();
        let range = keys::closing_start()..=keys::closing_through(now);
        for entry in self.tree.range(range) {
            if due.len() >= limit {
                break;
            }
            let (key, _) = entry.map_err(|e| storage("read", e))?;
            let Some(id) = keys::trailing_id(&key) else {
                continue;
            };
            match self.load(id)? {
                None => changes.remove(key),
                Some(request) if request.answered_at.is_some() => {
                    changes.remove(keys::record(id));
                    changes.remove(key);
                }
                Some(request) => due.push(request),
            }
        }
        self.apply(changes)?;
        Ok(due)
    }

    /// Forgets request `id` (its follow-up was queued). Returns whether it was registered.
    /// Durable when it returns.
    pub fn close(&self, id: MessageId) -> Result<bool, RequestError> {
        let _guard = self.lock();
        let Some(request) = self.load(id)? else {
            return Ok(false);
        };
        let mut changes = Changes::default();
        changes.remove(keys::record(id));
        changes.remove(keys::closing(request.closes_at(), id));
        if let Some(key) = keys::by_number(&request.recipient, id) {
            changes.remove(key);
        }
        self.apply(changes)?;
        Ok(true)
    }

    /// Request `id` as registered (open or answered), if it still is.
    pub fn get(&self, id: MessageId) -> Result<Option<OpenRequest>, RequestError> {
        self.load(id)
    }

    /// Reads a record.
    fn load(&self, id: MessageId) -> Result<Option<OpenRequest>, RequestError> {
        match self
            .tree
            .get(keys::record(id))
            .map_err(|e| storage("read", e))?
        {
            Some(bytes) => OpenRequest::decode(&bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Applies the changes atomically and flushes them to disk (nothing to do if none).
    fn apply(&self, changes: Changes) -> Result<(), RequestError> {
        if !changes.any {
            return Ok(());
        }
        self.tree
            .apply_batch(changes.batch)
            .map_err(|e| storage("write", e))?;
        crate::side_db::flush(&self.db, &self.log).map_err(RequestError::Storage)
    }

    /// The write lock (a panic elsewhere while holding it leaves nothing half-written: every
    /// change is one atomic batch).
    fn lock(&self) -> MutexGuard<'_, ()> {
        self.write
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A sled batch that knows whether it holds anything (sled's `Batch` cannot tell).
#[derive(Default)]
struct Changes {
    batch: sled::Batch,
    any: bool,
}

impl Changes {
    fn insert(&mut self, key: Vec<u8>, value: impl Into<sled::IVec>) {
        self.batch.insert(key, value);
        self.any = true;
    }

    fn remove(&mut self, key: impl Into<sled::IVec>) {
        self.batch.remove(key);
        self.any = true;
    }
}

/// A sled error as a `RequestError`.
fn storage(what: &str, e: impl fmt::Display) -> RequestError {
    RequestError::Storage(format!("{what}: {e}"))
}
