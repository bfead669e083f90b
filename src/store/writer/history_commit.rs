//! The history committer: its own thread commits the history tier's writes, in the order the
//! flusher hands them over, so a flush of the live store never waits behind a commit of the
//! moves' copies (SQLite's fsync and sled's run side by side). It tells the writer, with
//! [`Op::HistoryDurable`], once each flush job's writes are durable.

use super::inbox::OpSender;
use super::ops::Op;
use super::state::Shared;
use crate::store::engine::priority;
use crate::store::error::StoreError;
use crate::store::history::{HistoryWrite, HistoryWriter};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};
use std::thread::JoinHandle;

/// The committer's niceness whenever the store's threads are lowered at all: the lowest, so
/// that under full load its SQLite work yields the CPU to the writer and the flusher, which
/// an accept's answer waits for (the copies only wait; see docs/BENCHMARKS.md, C).
const COMMITTER_NICE: i32 = 19;

/// One flush job's history writes; `done`, when someone waits for their commit.
struct Batch {
    job: u64,
    writes: Vec<HistoryWrite>,
    done: Option<SyncSender<Result<(), StoreError>>>,
}

/// The flusher's handle on the committer thread (which stops, its queue drained, when the
/// handle is dropped).
pub struct HistoryCommitter {
    batches: Option<Sender<Batch>>,
    thread: Option<JoinHandle<()>>,
}

impl HistoryCommitter {
    /// Starts the thread; `nice` is the store's threads' niceness (0 leaves this one at
    /// normal priority too, above 0 it runs at [`COMMITTER_NICE`]).
    pub fn spawn(
        writer: HistoryWriter,
        shared: Arc<Shared>,
        ops: OpSender,
        nice: i32,
    ) -> Result<Self, StoreError> {
        let (batches, queue) = channel();
        let thread = std::thread::Builder::new()
            .name("khabar-store-history".into())
            .spawn(move || commit_all(writer, shared, queue, ops, nice))
            .map_err(|e| {
                StoreError::storage(format!("cannot start the history's committer: {e}"), e)
            })?;
        Ok(HistoryCommitter {
            batches: Some(batches),
            thread: Some(thread),
        })
    }

    /// Queues job `job`'s writes behind those handed over before.
    pub fn hand_over(&self, job: u64, writes: Vec<HistoryWrite>) {
        self.send(Batch {
            job,
            writes,
            done: None,
        });
    }

    /// Commits job `job`'s writes behind those handed over before, and waits for them.
    pub fn commit(&self, job: u64, writes: Vec<HistoryWrite>) -> Result<(), StoreError> {
        let (done, result) = sync_channel(1);
        self.send(Batch {
            job,
            writes,
            done: Some(done),
        });
        result.recv().unwrap_or(Err(StoreError::Closed))
    }

    fn send(&self, batch: Batch) {
        if let Some(batches) = &self.batches {
            // a send fails only once the thread is gone; the waiter then gets Closed
            let _ = batches.send(batch);
        }
    }
}

impl Drop for HistoryCommitter {
    fn drop(&mut self) {
        drop(self.batches.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Commits each batch in turn until the flusher hangs up; after a failure, commits nothing.
fn commit_all(
    mut writer: HistoryWriter,
    shared: Arc<Shared>,
    queue: Receiver<Batch>,
    ops: OpSender,
    nice: i32,
) {
    priority::lower_this_thread(if nice > 0 { COMMITTER_NICE } else { 0 });
    while let Ok(Batch { job, writes, done }) = queue.recv() {
        let step = super::slow::Step::start("commit the history");
        let result = match shared.failure.error() {
            Some(failed) => Err(failed.clone()),
            None => writer.apply(&writes),
        };
        step.end(|| format!("{} history writes", writes.len()));
        match &result {
            Ok(()) => _ = ops.send(Op::HistoryDurable { job }),
            Err(e) => shared.failure.trip(e),
        }
        if let Some(done) = done {
            let _ = done.send(result);
        }
    }
}
