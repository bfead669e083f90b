//! The flusher: fsyncs what the writer applied, then answers everyone who waited for it, so
//! many writers share one flush (group commit). A job's history writes go to the history
//! committer: the flusher waits for their commit before it flushes when an answer waits for
//! one of them (a late receipt on a moved message, retention); when they are only the moves'
//! copies it hands them over after the answers and goes on.

use super::history_commit::HistoryCommitter;
use super::inbox::OpSender;
use super::ops::Op;
use super::state::Shared;
use crate::store::engine::log_sync::LogSync;
use crate::store::engine::{Db, priority};
use crate::store::error::StoreError;
use crate::store::history::HistoryWrite;
use std::sync::Arc;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

/// How often the engine's I/O pool is looked over for threads started at normal priority.
const POOL_SWEEP_EVERY: Duration = Duration::from_secs(10);

/// An answer waiting for the flush that makes its change durable.
pub type Pending = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// One flush and the answers waiting for it.
pub struct FlushJob {
    /// The job's number (the writer counts them from 1).
    pub job: u64,
    /// Answers to send once flushed.
    pub pending: Vec<Pending>,
    /// The last event the flush makes durable.
    pub last_event: Option<u64>,
    /// Writes to the history tier.
    pub history: Vec<HistoryWrite>,
    /// True when an answer waits for a history write: the history is then committed first.
    /// Otherwise it holds only the moves' copies of what the live store already holds
    /// durably, and is committed after the answers (a live copy is deleted only once its
    /// copy is durable, after [`Op::HistoryDurable`]).
    pub answers_need_history: bool,
}

/// Runs until the writer hangs up.
pub fn flusher(
    db: Db,
    history: HistoryCommitter,
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
        let (first, after) = if job.answers_need_history {
            (job.history, Vec::new())
        } else {
            (Vec::new(), job.history)
        };
        let writes = first.len() + after.len();
        let flushed = match shared.failure.error() {
            Some(failed) => Err(failed.clone()),
            None if first.is_empty() => db.flush().and_then(|()| log.sync()),
            None => history
                .commit(job.job, first)
                .and_then(|()| db.flush().and_then(|()| log.sync())),
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
        if flushed.is_ok() && !after.is_empty() {
            history.hand_over(job.job, after);
        }
        step.end(|| format!("{writes} history writes"));
        // after the answers, so no one waits for the look through /proc
        if swept.is_none_or(|at| at.elapsed() >= POOL_SWEEP_EVERY) {
            priority::lower_engine_pool(nice);
            swept = Some(Instant::now());
        }
        let _ = ops.send(Op::FlusherIdle);
    }
}
