//! The durable message store: every stage reads and writes message state through it, and a
//! restart resumes from it alone.
//!
//! One sled tree holds the records and every index under key prefixes (see [`keys`]), so a
//! state change and its index updates are one atomic batch. All changes go through a single
//! writer thread with group commit (see [`writer`]); reads go straight to sled from any thread.
//! `accept` answers only once the message is flushed to disk.

pub mod codec;
pub mod config;
pub mod counts;
pub mod disk;
pub mod error;
pub mod event;
pub mod event_run;
pub mod history;
pub mod keys;
mod lifecycle_api;
pub mod log_sync;
mod open;
pub mod priority;
pub mod read;
mod scan;
pub mod writer;

pub use config::StoreConfig;
pub use counts::Counts;
pub use disk::DiskSpace;
pub use error::StoreError;
pub use event::{Event, StoredEvent};
pub use open::open_waiting_for_lock;
pub use read::Tier;
pub use scan::AwaitingReceipt;
pub use writer::{
    AcceptedOtps, DroppedReceipts, EXIT_STORE_FAILED, Fired, ReceiptLanding, RetentionReport,
};

use crate::message::{MessageId, NewMessage, State, millis, now_ms};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use tokio::sync::{oneshot, watch};
use writer::{Op, Shared, WriterState};

/// The store format this release writes (and the newest it reads). Format 2 writes message
/// records without field names ([`codec::RECORD_VERSION`]); format 3 moves finished messages
/// to the history tier ([`history`]). An older store is opened as is (its records are still
/// read, its finished messages move over in the background) and marked format 3, so an older
/// release, which would not look in the history, refuses it cleanly.
pub const FORMAT_VERSION: u32 = 3;

/// The oldest store format this release opens.
const OLDEST_FORMAT_READ: u32 = 1;

/// The answer to an accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accepted {
    /// The message's id (the first message's, for a repeated reference).
    pub id: MessageId,
    /// Its current state.
    pub state: State,
    /// True when the reference was already known and nothing new was stored.
    pub duplicate: bool,
}

/// A handle to the store; cheap to clone and share between tasks.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    db: sled::Db,
    history: Arc<history::History>,
    ops: writer::OpSender,
    shared: Arc<Shared>,
    writer: Mutex<Option<JoinHandle<()>>>,
    recovered: usize,
    disk: disk::DiskGuard,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let _ = self.ops.send(Op::Shutdown);
        if let Some(handle) = self.writer.lock().ok().and_then(|mut w| w.take()) {
            let _ = handle.join();
        }
    }
}

/// What a final delivery receipt `stat:` means for the message, or None while not final.
/// `DELIVRD` and `ACCEPTD` count as delivered; `UNDELIV`, `REJECTD` and `DELETED` as
/// undeliverable; `EXPIRED` as expired; `UNKNOWN` as unknown; anything else (`ENROUTE`) waits.
pub fn receipt_outcome(stat: &str) -> Option<State> {
    match stat.trim().to_ascii_uppercase().as_str() {
        "DELIVRD" | "ACCEPTD" => Some(State::Delivered),
        "UNDELIV" | "REJECTD" | "DELETED" => Some(State::Undeliverable),
        "EXPIRED" => Some(State::Expired),
        "UNKNOWN" => Some(State::Unknown),
        _ => None,
    }
}

impl Store {
    /// Opens (or creates) the store, then puts every message caught in `submitting` back in
    /// the queue. Blocking: call it before serving, or from `spawn_blocking`.
    pub fn open(config: &StoreConfig) -> Result<Store, StoreError> {
        let db = open::sled_db(config)?;
        open::check_not_wiped(&config.path, &db)?;
        let state = open_format(&db)?;
        let history = Arc::new(history::History::open(&config.path)?);
        open::mark_in_use(&config.path);
        let (state, recovered) = writer::recover_in_flight(&db, &history, &state, now_ms())?;
        if recovered > 0 {
            tracing::info!(
                recovered,
                "messages caught in submitting are back in the queue"
            );
        }
        let (events, _) = watch::channel(state.event_seq);
        let shared = Arc::new(Shared {
            counts: Mutex::new(state.counts.clone()),
            events,
            failure: writer::Failure::new(config.exit_on_failure),
            direct: writer::DirectClaims::default(),
            events_in_history: state.events_moved.max(history.last_event()?).into(),
        });
        let writer_config = writer::WriterConfig {
            max_group: config.max_group.max(1),
            erase_after_ms: millis(config.erase_texts_after),
            forget_after_ms: millis(config.forget_after),
            keep_events_ms: millis(config.keep_events_for),
            store_dir: config.path.clone(),
            thread_nice: config.thread_nice,
            move_after_ms: millis(config.move_to_history_after),
        };
        let (ops, handle) = writer::spawn(
            db.clone(),
            history.clone(),
            state,
            writer_config,
            shared.clone(),
        )?;
        let inner = Inner {
            db,
            history,
            ops,
            shared,
            writer: Mutex::new(Some(handle)),
            recovered,
            disk: disk::DiskGuard::new(&config.path, config.min_free_disk_mib),
        };
        Ok(Store {
            inner: Arc::new(inner),
        })
    }

    /// How many `submitting` messages `open` put back in the queue.
    pub fn recovered_at_open(&self) -> usize {
        self.inner.recovered
    }

    /// Sends an op to the writer and waits for its answer.
    async fn ask<T>(&self, op: impl FnOnce(oneshot::Sender<T>) -> Op) -> Result<T, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.inner
            .ops
            .send(op(tx))
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)
    }

    /// Stores a message durably (or finds the one with the same reference).
    pub async fn accept(&self, message: NewMessage) -> Result<Accepted, StoreError> {
        let mut answers = self.accept_batch(vec![message]).await;
        answers.pop().unwrap_or(Err(StoreError::Closed))
    }

    /// Stores many messages with one flush; one answer per message, in order. Below the
    /// free-space reserve (see [`disk`]) all are refused with [`StoreError::DiskFull`].
    pub async fn accept_batch(
        &self,
        messages: Vec<NewMessage>,
    ) -> Vec<Result<Accepted, StoreError>> {
        let n = messages.len();
        if let Err(full) = self.inner.disk.admit() {
            return vec![Err(full); n];
        }
        match self.ask(|reply| Op::Accept { messages, reply }).await {
            Ok(answers) => answers,
            Err(e) => (0..n).map(|_| Err(e.clone())).collect(),
        }
    }

    /// The current counters (messages per state, queued per lane).
    pub fn counts(&self) -> Counts {
        self.inner
            .shared
            .counts
            .lock()
            .map(|c| c.clone())
            .unwrap_or_default()
    }

    /// A receiver that changes whenever new events are durable (its value: the last seq).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.shared.events.subscribe()
    }

    /// Waits until every change made so far is on disk.
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.ask(|reply| Op::Flush { reply }).await?
    }

    /// Checks every index against the records; returns the problems found (none = healthy).
    /// Reads the whole store while holding off writes: for operators and tests, not hot paths.
    pub async fn verify_integrity(&self) -> Result<Vec<String>, StoreError> {
        self.ask(|reply| Op::Verify { reply }).await?
    }
}

/// Checks (or writes, for a new store) the format version; returns the writer's bookkeeping.
fn open_format(db: &sled::Db) -> Result<WriterState, StoreError> {
    match db.get(keys::FORMAT_VERSION)? {
        Some(v) => {
            let found = <[u8; 4]>::try_from(v.as_ref())
                .map(u32::from_be_bytes)
                .unwrap_or(u32::MAX);
            if !(OLDEST_FORMAT_READ..=FORMAT_VERSION).contains(&found) {
                return Err(StoreError::UnsupportedFormat {
                    found,
                    supported: FORMAT_VERSION,
                });
            }
            if found < FORMAT_VERSION {
                // nothing to convert: records written from now on are of the new format
                db.insert(keys::FORMAT_VERSION, FORMAT_VERSION.to_be_bytes().to_vec())?;
                db.flush()?;
            }
            match db.get(keys::WRITER_STATE)? {
                Some(bytes) => codec::decode(codec::STATE_VERSION, &bytes, "writer state"),
                None => Ok(WriterState::default()),
            }
        }
        None if db.first()?.is_none() => {
            db.insert(keys::FORMAT_VERSION, FORMAT_VERSION.to_be_bytes().to_vec())?;
            db.flush()?;
            Ok(WriterState::default())
        }
        None => Err(StoreError::Corrupt(
            "this directory holds a sled database that is not a khabar store".into(),
        )),
    }
}
