//! The slow-step warning: a writer or flusher step that holds up every accept for a second or
//! more is logged with its name and time, so an operator (or a soak run) can tell which one.

use std::time::{Duration, Instant};

/// A step at least this long is logged: every accept waits behind it.
const SLOW_STEP: Duration = Duration::from_secs(1);

/// Times one step of the writer or the flusher.
pub struct Step {
    name: &'static str,
    started: Instant,
}

impl Step {
    /// Starts timing the step called `name`.
    pub fn start(name: &'static str) -> Step {
        Step {
            name,
            started: Instant::now(),
        }
    }

    /// Ends the step; logs it when it was slow, with `detail` (what it did, in words).
    pub fn end(self, detail: impl FnOnce() -> String) {
        let took = self.started.elapsed();
        if took >= SLOW_STEP {
            tracing::warn!(
                step = self.name,
                took_ms = took.as_millis() as u64,
                "a store step was slow; accepts waited behind it: {}",
                detail()
            );
        }
    }
}
