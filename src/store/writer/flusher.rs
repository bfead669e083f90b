//! The flusher: fsyncs what the writer applied, then answers everyone who waited for it, so
//! many writers share one flush (group commit).

use super::super::StoreError;
use super::{Op, Shared};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender};

/// An answer waiting for the flush that makes its change durable.
pub type Pending = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// One flush and the answers waiting for it.
pub struct FlushJob {
    /// Answers to send once flushed.
    pub pending: Vec<Pending>,
    /// The last event the flush makes durable.
    pub last_event: Option<u64>,
}

/// Runs until the writer hangs up.
pub fn flusher(db: sled::Db, shared: Arc<Shared>, jobs: Receiver<FlushJob>, ops: Sender<Op>) {
    while let Ok(job) = jobs.recv() {
        let flushed = db.flush().map(|_| ()).map_err(StoreError::from);
        if let Err(e) = &flushed {
            tracing::error!(error = %e, "store flush failed; answering the waiting writers with an error");
        }
        if let (Ok(()), Some(seq)) = (&flushed, job.last_event) {
            shared.events.send_replace(seq);
        }
        for answer in job.pending {
            answer(flushed.clone());
        }
        let _ = ops.send(Op::FlusherIdle);
    }
}
