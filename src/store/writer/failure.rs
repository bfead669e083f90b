//! Fail-stop after a storage failure (a full or read-only disk, an I/O error).
//!
//! The live store's engine cannot carry on after an I/O error: the error sticks (every later
//! write and flush returns it until the database is reopened), and a batch that failed
//! part-way is already half applied to the in-memory tree, though never to disk (its log
//! entries are recovered all or nothing). So the first failure trips a [`Failure`]: from then
//! on the writer applies nothing and answers every waiting and new operation with
//! [`StoreError::Failed`] (`refuse.rs`), one error is logged, and — in the daemon — the process
//! exits with [`EXIT_STORE_FAILED`] a moment later (time for the socket to send those
//! answers), so its supervisor restarts it and the engine recovers what was durable from its
//! log. Nothing answered as stored is lost: an answer is `Ok` only after a successful flush.
use crate::store::error::StoreError;
use std::sync::OnceLock;
use std::time::Duration;

/// The exit status after a storage failure (`EX_TEMPFAIL`: restart and try again).
pub const EXIT_STORE_FAILED: i32 = 75;

/// How long the process lives on after a failure, answering every request with the error.
const EXIT_GRACE: Duration = Duration::from_secs(1);

/// Whether the store has failed, shared by the writer, the flusher and the readers.
pub struct Failure {
    error: OnceLock<StoreError>,
    exit: bool,
}

impl Failure {
    /// Not failed; `exit`: end the process once it fails.
    pub fn new(exit: bool) -> Self {
        Failure {
            error: OnceLock::new(),
            exit,
        }
    }

    /// The error every operation is answered with once the store has failed.
    pub fn error(&self) -> Option<&StoreError> {
        self.error.get()
    }

    /// Records `cause` if it is a storage failure (other errors leave the store usable). The
    /// first one is logged and, with `exit`, ends the process after `EXIT_GRACE`.
    pub fn trip(&self, cause: &StoreError) {
        let StoreError::Storage { what: detail, .. } = cause else {
            return;
        };
        if self.error.set(StoreError::Failed(detail.clone())).is_err() {
            return;
        }
        if !self.exit {
            tracing::error!(error = %detail, "the store failed: every write is refused until it is reopened");
            return;
        }
        tracing::error!(
            error = %detail,
            exit_status = EXIT_STORE_FAILED,
            "the store failed: every write is refused and khabar exits in {} s so that its \
             supervisor restarts it; the store recovers everything that was stored from its log",
            EXIT_GRACE.as_secs()
        );
        let exiting = std::thread::Builder::new()
            .name("khabar-store-failed".into())
            .spawn(|| {
                std::thread::sleep(EXIT_GRACE);
                std::process::exit(EXIT_STORE_FAILED);
            });
        if exiting.is_err() {
            std::process::exit(EXIT_STORE_FAILED);
        }
    }
}
