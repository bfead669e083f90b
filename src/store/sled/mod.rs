//! The sled engine's side of the store's interface: [`SledStore`] (opening, accepting and the
//! writer's round trip), its changes after acceptance (`lifecycle.rs`) and its reads that need
//! no writer (`read.rs`, `scan.rs`). The stages reach it only through [`super::Store`].

mod lifecycle;
mod read;
mod scan;

pub use scan::WeakSled;

use crate::message::{NewMessage, millis, now_ms};
use crate::store::config::StoreConfig;
use crate::store::counts::Counts;
use crate::store::disk::{DiskGuard, DiskSpace};
use crate::store::engine::{self, Db};
use crate::store::error::StoreError;
use crate::store::format;
use crate::store::history::History;
use crate::store::reports::Accepted;
use crate::store::writer::direct::DirectClaims;
use crate::store::writer::failure::Failure;
use crate::store::writer::inbox::OpSender;
use crate::store::writer::ops::Op;
use crate::store::writer::recover::recover_in_flight;
use crate::store::writer::state::{Shared, WriterConfig};
use crate::store::writer::thread::spawn;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use tokio::sync::{oneshot, watch};

/// A handle to the store; cheap to clone and share between tasks.
#[derive(Clone)]
pub struct SledStore {
    pub(super) inner: Arc<Inner>,
}

/// What every clone of a [`SledStore`] shares; the last one dropped stops the writer.
pub(super) struct Inner {
    pub(super) db: Db,
    pub(super) history: Arc<History>,
    pub(super) ops: OpSender,
    pub(super) shared: Arc<Shared>,
    writer: Mutex<Option<JoinHandle<()>>>,
    recovered: usize,
    pub(super) disk: DiskGuard,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let _ = self.ops.send(Op::Shutdown);
        if let Some(handle) = self.writer.lock().ok().and_then(|mut w| w.take()) {
            let _ = handle.join();
        }
    }
}

impl SledStore {
    /// Opens (or creates) the store, then puts every message caught in `submitting` back in
    /// the queue. Blocking: call it before serving, or from `spawn_blocking`.
    pub fn open(config: &StoreConfig) -> Result<SledStore, StoreError> {
        let db = engine::open::database(config)?;
        engine::open::check_not_wiped(&config.path, &db)?;
        let state = format::check(&db)?;
        let history = Arc::new(History::open(&config.path)?);
        engine::open::mark_in_use(&config.path);
        let (state, recovered) = recover_in_flight(&db, &history, &state, now_ms())?;
        let (events, _) = watch::channel(state.event_seq);
        let shared = Arc::new(Shared {
            counts: Mutex::new(state.counts.clone()),
            events,
            failure: Failure::new(config.exit_on_failure),
            direct: DirectClaims::default(),
            events_in_history: state.events_moved.max(history.last_event()?).into(),
        });
        let writer_config = WriterConfig {
            max_group: config.max_group.max(1),
            erase_after_ms: millis(config.erase_texts_after),
            forget_after_ms: millis(config.forget_after),
            keep_events_ms: millis(config.keep_events_for),
            store_dir: config.path.clone(),
            thread_nice: config.thread_nice,
            move_after_ms: millis(config.move_to_history_after),
        };
        let (ops, handle) = spawn(
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
            disk: DiskGuard::new(&config.path, config.min_free_disk_mib),
        };
        Ok(SledStore {
            inner: Arc::new(inner),
        })
    }

    /// How many `submitting` messages `open` put back in the queue.
    pub fn recovered_at_open(&self) -> usize {
        self.inner.recovered
    }

    /// Sends an op to the writer and waits for its answer.
    pub(super) async fn ask<T>(
        &self,
        op: impl FnOnce(oneshot::Sender<T>) -> Op,
    ) -> Result<T, StoreError> {
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

    /// The free space of the store's disk against the reserve (for `khabar status`).
    pub fn disk_space(&self) -> DiskSpace {
        self.inner.disk.space()
    }

    /// The storage failure that stopped the store, if one did (it then refuses every write
    /// until reopened; the daemon exits and its supervisor restarts it).
    pub fn failure(&self) -> Option<StoreError> {
        self.inner.shared.failure.error().cloned()
    }
}
