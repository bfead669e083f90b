//! Repeated events in the log: each kind is logged in full the first time in a window of a few
//! seconds, and the rest of that window is counted and summarised in one line ("… `repeated`
//! more in the last 5 s"), so a flood of replies or receipts cannot flood the log.
//!
//! Written here because `tracing` has no rate limit of its own and the crates that add one
//! either drop the excess silently or need a subscriber layer the tests cannot share.
//!
//! ```
//! use khabar::log_gate::{Repeated, note};
//! const UNMATCHED: Repeated = Repeated::info("a reply that matches no open request");
//! note(&UNMATCHED, || tracing::info!(from = "+7701***4567", "{}", UNMATCHED.what));
//! ```

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};
use tracing::Level;

/// How long a window lasts: one full line, then one summary, per kind.
pub const WINDOW: Duration = Duration::from_secs(5);

/// A kind of event that may repeat many times a second.
#[derive(Debug)]
pub struct Repeated {
    /// What happened, as the log line says it (also its key).
    pub what: &'static str,
    /// The level of its lines.
    pub level: Level,
}

impl Repeated {
    /// An event logged at INFO.
    pub const fn info(what: &'static str) -> Self {
        Repeated {
            what,
            level: Level::INFO,
        }
    }

    /// An event logged at WARN.
    pub const fn warn(what: &'static str) -> Self {
        Repeated {
            what,
            level: Level::WARN,
        }
    }
}

/// Occurrences of one kind in its current window.
struct Tally {
    level: Level,
    started: Instant,
    /// Counted, not logged, since the window started.
    more: u64,
}

/// The windows of every kind.
#[derive(Default)]
struct Gate {
    tallies: Mutex<HashMap<&'static str, Tally>>,
}

impl Gate {
    /// True when this occurrence of `event` is the first of its window (log it in full).
    fn admit(&self, event: &Repeated, now: Instant) -> bool {
        let mut tallies = self.tallies.lock().unwrap_or_else(|p| p.into_inner());
        let fresh = Tally {
            level: event.level,
            started: now,
            more: 0,
        };
        match tallies.get_mut(event.what) {
            Some(tally) if now.duration_since(tally.started) < WINDOW => {
                tally.more += 1;
                false
            }
            Some(tally) => {
                summarise(event.what, tally.level, tally.more, now - tally.started);
                *tally = fresh;
                true
            }
            None => {
                tallies.insert(event.what, fresh);
                true
            }
        }
    }

    fn flush(&self, all: bool, now: Instant) {
        let mut tallies = self.tallies.lock().unwrap_or_else(|p| p.into_inner());
        tallies.retain(|what, tally| {
            let span = now.duration_since(tally.started);
            if !all && span < WINDOW {
                return true;
            }
            summarise(what, tally.level, tally.more, span);
            false
        });
    }
}

static GATE: LazyLock<Gate> = LazyLock::new(Gate::default);

/// Counts one occurrence of `event`; runs `log` (which writes the full line) when it is the
/// first of a window. A window that has ended is summarised first. (In the crate's own unit
/// tests every occurrence is logged, so tests that read logs do not depend on each other.)
pub fn note(event: &Repeated, log: impl FnOnce()) {
    if cfg!(test) || GATE.admit(event, Instant::now()) {
        log();
    }
}

/// Summarises every window that has ended (call it every few seconds, and at shutdown with
/// `all` to summarise the windows still open).
pub fn flush(all: bool) {
    GATE.flush(all, Instant::now());
}

/// Summarises ended windows every [`WINDOW`] until the task is aborted. Needs a tokio runtime.
pub async fn run_flusher() {
    let mut every = tokio::time::interval(WINDOW);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        flush(false);
    }
}

fn summarise(what: &str, level: Level, more: u64, span: Duration) {
    if more == 0 {
        return;
    }
    let secs = span.as_secs().max(1);
    match level {
        Level::ERROR => {
            tracing::error!(repeated = more, "{what}: {more} more in the last {secs} s")
        }
        Level::WARN => tracing::warn!(repeated = more, "{what}: {more} more in the last {secs} s"),
        Level::INFO => tracing::info!(repeated = more, "{what}: {more} more in the last {secs} s"),
        _ => tracing::debug!(repeated = more, "{what}: {more} more in the last {secs} s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_is_logged_and_the_rest_of_the_window_counted() {
        const EVENT: Repeated = Repeated::info("log_gate test event");
        let gate = Gate::default();
        let now = Instant::now();
        let admitted = (0..1000).filter(|_| gate.admit(&EVENT, now)).count();
        assert_eq!(admitted, 1);
        assert_eq!(gate.tallies.lock().unwrap()[EVENT.what].more, 999);
        gate.flush(false, now);
        assert!(
            gate.tallies.lock().unwrap().contains_key(EVENT.what),
            "still open"
        );
        gate.flush(true, now);
        assert!(gate.tallies.lock().unwrap().is_empty());
        assert!(gate.admit(&EVENT, now), "a new window logs in full again");
        assert!(
            gate.admit(&EVENT, now + WINDOW),
            "and so does the next window"
        );
    }
}
