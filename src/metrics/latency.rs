//! Latency histograms the stages feed as messages move: accept → every part acknowledged by
//! the operator (submit latency), and acknowledged → final receipt (receipt latency).

use crate::message::{Message, Millis, State};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

/// The histograms, shared by the sending and receipts stages and the metrics endpoint.
#[derive(Clone)]
pub struct Latencies {
    /// Seconds from acceptance to `submitted`.
    pub submit: Histogram,
    /// Seconds from `submitted` to the final receipt.
    pub receipt: Histogram,
}

impl Default for Latencies {
    fn default() -> Self {
        // 1 ms … ~4.7 h in ×2 steps: OTPs in milliseconds, queued bulk in hours.
        let buckets = || exponential_buckets(0.001, 2.0, 25);
        Latencies {
            submit: Histogram::new(buckets()),
            receipt: Histogram::new(buckets()),
        }
    }
}

fn seconds(from: Millis, to: Millis) -> f64 {
    (to - from).max(0) as f64 / 1000.0
}

impl Latencies {
    /// `message` just became `submitted` at `now`.
    pub fn submitted(&self, message: &Message, now: Millis) {
        self.submit.observe(seconds(message.created, now));
    }

    /// A receipt was recorded for `message` at `now`; counts once it is final.
    pub fn receipt(&self, message: &Message, now: Millis) {
        if !message.state.is_final() {
            return;
        }
        let submitted = message
            .history
            .iter()
            .rev()
            .find(|t| t.state == State::Submitted);
        if let Some(t) = submitted {
            self.receipt.observe(seconds(t.at, now));
        }
    }
}
