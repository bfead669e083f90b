//! The flusher: fsyncs what the writer applied, then answers everyone who waited for it, so
//! many writers share one flush (group commit). A job's history writes are committed before
//! the answers when one of them waits for such a write (a late receipt on a moved message,
//! retention), and after them when they are only the moves' copies.

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
    /// Writes to the history tier.
    pub history: Vec<HistoryWrite>,
    /// True when an answer waits for a history write: the history is then committed first.
    /// Otherwise it holds only the moves' copies of what the live store already holds
    /// durably, and is committed after the answers (a live copy is deleted only once its
    /// copy is durable, after [`Op::FlusherIdle`]).
    pub answers_need_history: bool,
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
        let step = super::slow::Step::start("flush");
        let started = Instant::now();
        let (first, after) = if job.answers_need_history {
            (job.history, Vec::new())
        } else {
            (Vec::new(), job.history)
        };
        let flushed = match shared.failure.error() {
            Some(failed) => Err(failed.clone()),
            None => history
                .apply(&first)
                .and_then(|()| db.flush().and_then(|()| log.sync())),
        };
        let flush_took = started.elapsed();
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
        if flushed.is_ok()
            && let Err(e) = history.apply(&after)
        {
            shared.failure.trip(&e);
        }
        step.end(|| {
            format!(
                "{} history writes; {} ms until the answers, {} ms in all",
                first.len() + after.len(),
                flush_took.as_millis(),
                started.elapsed().as_millis()
            )
        });
        // after the answers, so no one waits for the look through /proc
        if swept.is_none_or(|at| at.elapsed() >= POOL_SWEEP_EVERY) {
            priority::lower_engine_pool(nice);
            swept = Some(Instant::now());
        }
        let _ = ops.send(Op::FlusherIdle);
    }
}
