//! When an issued code is on disk: [`OtpService::issue_unflushed`] numbers its writes, and a
//! flush records the last number it covered, so the sending stage waits only for a code that
//! no finished flush covers, and a flush under way serves everyone waiting on it.

use super::{OtpError, OtpService};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// Writes not yet known to be on disk: each issue gets the next number.
#[derive(Default)]
pub(super) struct Unflushed {
    /// The number of the latest issue.
    latest: u64,
    /// The latest issue's number of each session issued since the last flush began.
    sessions: HashMap<String, u64>,
}

impl OtpService {
    /// Numbers a session's code just written. Called after the write, so a flush that reads
    /// this number started after the write was made.
    pub(super) fn note_unflushed(&self, session: &str) {
        let mut unflushed = lock(&self.unflushed);
        unflushed.latest += 1;
        let number = unflushed.latest;
        unflushed.sessions.insert(session.to_owned(), number);
    }

    /// Whether `session`'s code may not be on disk yet (then [`OtpService::make_durable`]
    /// blocks). Cheap: no disk access.
    pub fn is_unflushed(&self, session: &str) -> bool {
        lock(&self.unflushed).sessions.contains_key(session)
    }

    /// Blocks until `session`'s latest code is on disk: waits for a flush under way, and
    /// flushes when none covered it.
    pub fn make_durable(&self, session: &str) -> Result<(), OtpError> {
        let Some(number) = lock(&self.unflushed).sessions.get(session).copied() else {
            return Ok(());
        };
        let mut flushed = lock(&self.flushed);
        if *flushed >= number {
            return Ok(());
        }
        self.flush_holding(&mut flushed)
    }

    /// Writes everything to disk.
    pub fn flush(&self) -> Result<(), OtpError> {
        self.flush_holding(&mut lock(&self.flushed))
    }

    /// Flushes while the caller holds `flushed`, then records what the flush covered.
    fn flush_holding(&self, flushed: &mut u64) -> Result<(), OtpError> {
        let upto = lock(&self.unflushed).latest;
        crate::side_db::flush(&self.db, &self.log).map_err(OtpError::Storage)?;
        *flushed = upto;
        lock(&self.unflushed)
            .sessions
            .retain(|_, number| *number > upto);
        Ok(())
    }
}

/// Locks `mutex`, going on past a panic in another holder (the guarded data stays valid).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
