//! Which sessions got a new code while an older one was still valid, kept in memory so that
//! the sending stage can tell a replaced code without reading the OTP database on its hot path
//! (a read there waits behind the database's flushes: docs/BENCHMARKS.md, C). Only codes issued
//! since this process opened the database are known here; older ones are looked up on disk.

use crate::message::Millis;
use std::collections::HashMap;
use std::sync::Mutex;

/// Sessions whose code was replaced, with the newest code's issue time and the time after
/// which no replaced code of theirs can be sent any more (the latest expiry among them).
#[derive(Default)]
pub(super) struct Replaced(Mutex<HashMap<String, (Millis, Millis)>>);

impl Replaced {
    /// Notes a new code for `session` issued at `issued_at`, replacing one valid until
    /// `previous_until` (None: no valid code before, and nothing to note unless an earlier
    /// replacement of the session is still noted).
    pub(super) fn note(&self, session: &str, issued_at: Millis, previous_until: Option<Millis>) {
        let mut map = self.lock();
        match (map.get_mut(session), previous_until) {
            (Some((newest, until)), previous) => {
                *newest = issued_at;
                *until = (*until).max(previous.unwrap_or(0));
            }
            (None, Some(until)) => {
                map.insert(session.to_owned(), (issued_at, until));
            }
            (None, None) => {}
        }
    }

    /// Whether the code of `session` issued at `issued_at` was replaced (for codes issued since
    /// the database was opened).
    pub(super) fn is_replaced(&self, session: &str, issued_at: Millis) -> bool {
        self.lock()
            .get(session)
            .is_some_and(|(newest, _)| *newest != issued_at)
    }

    /// Forgets sessions none of whose replaced codes can be sent after `now`.
    pub(super) fn forget_expired(&self, now: Millis) {
        self.lock().retain(|_, (_, until)| *until > now);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Millis, Millis)>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
