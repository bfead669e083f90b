//! A sliding one-second event count, for TPS limits and the busiest-second figure.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Counts events in a sliding one-second window: "no more than N in any second".
#[derive(Debug, Default)]
pub(crate) struct RateWindow {
    times: VecDeque<Instant>,
}

impl RateWindow {
    /// Records an event at `now` and returns how many fall in the second ending at `now`.
    pub(crate) fn record(&mut self, now: Instant) -> usize {
        self.forget_before(now);
        self.times.push_back(now);
        self.times.len()
    }

    /// How many events the second ending at `now` already holds.
    pub(crate) fn count(&mut self, now: Instant) -> usize {
        self.forget_before(now);
        self.times.len()
    }

    fn forget_before(&mut self, now: Instant) {
        while let Some(&first) = self.times.front() {
            if now.duration_since(first) >= Duration::from_secs(1) {
                self.times.pop_front();
            } else {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_window_forgets_after_a_second() {
        let mut w = RateWindow::default();
        let t0 = Instant::now();
        assert_eq!(w.record(t0), 1);
        assert_eq!(w.record(t0 + Duration::from_millis(500)), 2);
        assert_eq!(w.record(t0 + Duration::from_millis(1000)), 2);
        assert_eq!(w.count(t0 + Duration::from_millis(2500)), 0);
    }
}
