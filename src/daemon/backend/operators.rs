//! The operators' part of the status report: binds, window, rate, and throttling over the
//! last minute and hour. The sessions count throttling answers since start only, so a
//! sampler keeps a history of those counters to tell what happened recently.

use super::OperatorsFn;
use crate::api::views::{BindState, BindStatus, LastError, OperatorStatus};
use crate::message::{Millis, now_ms};
use crate::sessions::OperatorSnapshot;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::AbortHandle;

/// How often the sampler reads the operators' counters.
const SAMPLE_EVERY: Duration = Duration::from_secs(5);
/// How far back samples are kept.
const KEEP_MS: Millis = 3_600_000;

/// Samples of each operator's throttle counter: (when, total since start), oldest first.
#[derive(Default)]
pub struct ThrottleHistory {
    samples: Mutex<HashMap<String, VecDeque<(Millis, u64)>>>,
}

/// Throttling seen recently by one operator.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Throttling {
    /// Throttling answers in the last minute.
    pub last_minute: u64,
    /// Throttling answers in the last hour.
    pub last_hour: u64,
    /// When the counter last grew (to the sampling interval).
    pub last_at: Option<Millis>,
}

impl ThrottleHistory {
    /// Records the counters of `operators` at `now`.
    pub fn record(&self, operators: &[OperatorSnapshot], now: Millis) {
        let mut samples = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        for operator in operators {
            let history = samples.entry(operator.name.clone()).or_default();
            history.push_back((now, operator.throttled));
            // keep one sample older than an hour: it is the baseline of the hour
            while history.len() > 2 && history[1].0 <= now - KEEP_MS {
                history.pop_front();
            }
        }
    }

    /// Throttling of `operator` up to `now` (record a sample first).
    pub fn recent(&self, operator: &str, now: Millis) -> Throttling {
        let samples = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        let Some(history) = samples.get(operator) else {
            return Throttling::default();
        };
        let Some(&(_, total)) = history.back() else {
            return Throttling::default();
        };
        // the newest sample at least `span` old, else the oldest one
        let since = |span: Millis| {
            let baseline = history
                .iter()
                .rev()
                .find(|(at, _)| *at <= now - span)
                .or(history.front());
            total.saturating_sub(baseline.map_or(0, |(_, n)| *n))
        };
        let last_at = history
            .iter()
            .zip(history.iter().skip(1))
            .filter(|(before, after)| after.1 > before.1)
            .map(|(_, after)| after.0)
            .next_back();
        Throttling {
            last_minute: since(60_000),
            last_hour: since(KEEP_MS),
            last_at,
        }
    }

    /// Samples `operators` every few seconds until aborted. Needs a tokio runtime.
    pub fn sample(self: &Arc<Self>, operators: OperatorsFn) -> AbortHandle {
        let history = Arc::clone(self);
        let task = tokio::spawn(async move {
            let mut every = tokio::time::interval(SAMPLE_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                history.record(&operators(), now_ms());
            }
        });
        task.abort_handle()
    }
}

/// One operator as the status report shows it.
pub fn operator_status(snapshot: &OperatorSnapshot, throttling: Throttling) -> OperatorStatus {
    OperatorStatus {
        name: snapshot.name.clone(),
        binds: snapshot
            .binds
            .iter()
            .enumerate()
            .map(|(i, bind)| BindStatus {
                name: format!("{}#{} ({})", snapshot.name, i + 1, bind.role),
                state: if bind.up {
                    BindState::Up
                } else {
                    BindState::Down
                },
                since: Some(bind.since),
            })
            .collect(),
        window_in_use: snapshot.binds.iter().map(|b| b.outstanding).sum(),
        window_size: snapshot.binds.iter().map(|b| b.window).sum(),
        tps_now: snapshot.tps_now as f64,
        tps_cap: f64::from(snapshot.tps_cap),
        throttled_last_minute: throttling.last_minute,
        throttled_last_hour: throttling.last_hour,
        last_throttled_at: throttling.last_at,
        resent_unanswered: snapshot.unanswered,
        last_error: snapshot.last_error.as_ref().map(|(at, message)| LastError {
            at: *at,
            message: message.clone(),
        }),
    }
}

/// SMS parts per second the operators that can submit now may take together.
pub fn capacity(operators: &[OperatorSnapshot]) -> f64 {
    operators
        .iter()
        .filter(|o| o.binds.iter().any(|b| b.up && b.role != "receiver"))
        .map(|o| f64::from(o.tps_cap))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(throttled: u64) -> OperatorSnapshot {
        OperatorSnapshot {
            name: "kcell".into(),
            binds: Vec::new(),
            tps_now: 0,
            tps_peak: 0,
            tps_cap: 50,
            parts_accepted: 0,
            throttled,
            unanswered: 0,
            last_error: None,
        }
    }

    #[test]
    fn throttling_is_counted_per_minute_and_hour_from_samples() {
        let history = ThrottleHistory::default();
        let t0 = 1_800_000_000_000;
        history.record(&[snapshot(2)], t0);
        history.record(&[snapshot(7)], t0 + 1_000_000);
        history.record(&[snapshot(7)], t0 + 1_030_000);
        history.record(&[snapshot(10)], t0 + 1_090_000);
        let now = t0 + 1_090_000;
        let seen = history.recent("kcell", now);
        // the minute's baseline is the newest sample a minute old (7), the hour's the oldest (2)
        assert_eq!(seen.last_minute, 3);
        assert_eq!(seen.last_hour, 8);
        assert_eq!(seen.last_at, Some(now));
        assert_eq!(history.recent("beeline", now), Throttling::default());
    }
}
