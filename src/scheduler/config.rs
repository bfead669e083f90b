//! Scheduler settings (the `[scheduler]` section of the config file).

use super::backoff::RetryPolicy;
use super::deadlines::KindDefaults;
use serde::Deserialize;
use std::time::Duration;

/// How the scheduler shares capacity, retries and sets deadlines.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SchedulerConfig {
    /// The least share of picks each lower lane gets while it has due work.
    pub min_share: LaneShares,
    /// Backoff and attempt limit for transient failures.
    pub retry: RetryPolicy,
    /// Default deadlines per kind.
    pub kinds: KindDefaults,
    /// A submitted message still without a final receipt this long after submission
    /// becomes `unknown`.
    #[serde(with = "humantime_serde")]
    pub final_receipt_timeout: Duration,
    /// The deadline watcher looks at least this often (deadlines fire at most this late).
    #[serde(with = "humantime_serde")]
    pub watcher_tick: Duration,
    /// How often retention and event trimming run.
    #[serde(with = "humantime_serde")]
    pub housekeeping_every: Duration,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            min_share: LaneShares::default(),
            retry: RetryPolicy::default(),
            kinds: KindDefaults::default(),
            final_receipt_timeout: Duration::from_secs(72 * 3600),
            watcher_tick: Duration::from_millis(250),
            housekeeping_every: Duration::from_secs(600),
        }
    }
}

/// Minimum shares of picks (0.0–1.0) for the lanes below `otp`, while they have due work.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LaneShares {
    /// The `request` lane.
    pub request: f64,
    /// The `notification` lane.
    pub notification: f64,
    /// The `bulk` lane.
    pub bulk: f64,
}

impl Default for LaneShares {
    fn default() -> Self {
        LaneShares {
            request: 0.05,
            notification: 0.05,
            bulk: 0.02,
        }
    }
}

impl LaneShares {
    /// Shares by lane number (the `otp` lane needs none: it is always first).
    pub fn by_lane(&self) -> [f64; 4] {
        let clamp = |s: f64| {
            if s.is_finite() {
                s.clamp(0.0, 1.0)
            } else {
                0.0
            }
        };
        [
            0.0,
            clamp(self.request),
            clamp(self.notification),
            clamp(self.bulk),
        ]
    }

    /// Most OTPs in a row that still leave the lower lanes their shares together: with
    /// shares summing to S, one other job after every ⌊(1 − S) / S⌋ OTPs. None if S is 0.
    pub fn urgent_run(&self) -> Option<u32> {
        let together: f64 = self.by_lane().iter().sum();
        (together > 0.0).then(|| ((1.0 - together.min(1.0)) / together).floor() as u32)
    }
}
