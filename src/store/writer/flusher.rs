//! The flusher: fsyncs what the writer applied, then answers everyone who waited for it, so
//! many writers share one flush (group commit).

use super::inbox::OpSender;
use super::ops::Op;
use super::state::Shared;
use crate::store::engine::log_sync::LogSync;
use crate::store::engine::{Db, priority};
use crate::store::error::StoreError;
use crate::store::history::{HistoryWrite, HistoryWriter};
use std::sync::Arc;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

/// How often the engine's I/O pool is looked over for threads started at normal priority.
const POOL_SWEEP_EVERY: Duration = Duration::from_secs(10);

/// An answer waiting for the flush that makes its change durable.
pub type Pending = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// One flush and the answers waiting for it.
pub struct FlushJob {
    /// Answers to send once flushed.
    pub pending: Vec<Pending>,
    /// The last event the flush makes durable.
    pub last_event: Option<u64>,
    /// Writes to the history tier, committed before the flush of the live store.
    pub history: Vec<HistoryWrite>,
}

/// Runs until the writer hangs up.
pub fn flusher(
    db: Db,
    mut history: HistoryWriter,
    log: LogSync,
    shared: Arc<Shared>,
    jobs: Receiver<FlushJob>,
    ops: OpSender,
    nice: i32,
) {
    priority::lower_this_thread(nice);
    let mut swept: Option<Instant> = None;
    while let Ok(job) = jobs.recv() {
        let flushed = match shared.failure.error() {
            Some(failed) => Err(failed.clone()),
            // the history first: a message's live copy is only deleted after its copy there
            // is durable, and a history change is answered only once both are
            None => {
                let step = super::slow::Step::start("flush");
                let started = Instant::now();
                let applied = history.apply(&job.history);
                let history_took = started.elapsed();
                let flushed = applied.and_then(|()| db.flush().and_then(|()| log.sync()));
                step.end(|| {
                    format!(
                        "{} history writes took {} ms, the live store's flush {} ms",
                        job.history.len(),
                        history_took.as_millis(),
                        (started.elapsed() - history_took).as_millis()
                    )
                });
                flushed
            }
        };
        if let Err(e) = &flushed {
            // trip logs the first failure, once; the waiting writers get the error below
            shared.failure.trip(e);
        }
        if let (Ok(()), Some(seq)) = (&flushed, job.last_event) {
            shared.events.send_replace(seq);
        }
        for answer in job.pending {
            answer(flushed.clone());
        }
        // after the answers, so no one waits for the look through /proc
        if swept.is_none_or(|at| at.elapsed() >= POOL_SWEEP_EVERY) {
            priority::lower_engine_pool(nice);
            swept = Some(Instant::now());
        }
        let _ = ops.send(Op::FlusherIdle);
    }
}
