//! What all binds of one operator share: settings, credentials, the job queue, the rate cap.

use crate::sessions::config::{OperatorConfig, Secret};
use crate::sessions::health::OperatorHealth;
use crate::sessions::job::Job;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, mpsc};

/// One operator as its binds see it.
pub struct OperatorLink {
    /// Operator name.
    pub name: Arc<str>,
    /// Its settings.
    pub config: OperatorConfig,
    /// `smpp://host:port` or `smpps://host:port`.
    pub url: String,
    /// `host:port`, for messages.
    pub address: String,
    /// The resolved password (never logged).
    pub password: Secret,
    /// TLS settings when a CA file is configured.
    pub tls: Option<rustls::ClientConfig>,
    /// Live state for status and routing.
    pub health: Arc<OperatorHealth>,
    limiter: DefaultDirectRateLimiter,
    jobs: Mutex<mpsc::Receiver<Job>>,
}

impl OperatorLink {
    /// A link for `config`, connecting to `host:port`; returns it with the sender for its jobs.
    pub fn new(
        config: OperatorConfig,
        host: &str,
        port: u16,
        password: Secret,
        tls: Option<rustls::ClientConfig>,
    ) -> (Arc<Self>, mpsc::Sender<Job>) {
        let binds = match config.bind_mode {
            crate::sessions::config::BindMode::Transceiver => config.binds as usize,
            crate::sessions::config::BindMode::TransmitterReceiver => 2 * config.binds as usize,
        };
        // Room for every bind's window, so a job waits here only when all windows are full.
        let (tx, rx) = mpsc::channel((config.binds * config.window).max(1) as usize);
        let scheme = if config.tls { "smpps" } else { "smpp" };
        let link = Arc::new(OperatorLink {
            name: Arc::from(config.name.as_str()),
            url: format!("{scheme}://{host}:{port}"),
            address: format!("{host}:{port}"),
            password,
            tls,
            health: OperatorHealth::new(&config.name, binds, config.tps),
            limiter: RateLimiter::direct(strict_quota(config.tps)),
            jobs: Mutex::new(rx),
            config,
        });
        (link, tx)
    }

    /// The next job for any of this operator's binds.
    pub async fn next_job(&self) -> Job {
        let mut jobs = self.jobs.lock().await;
        match jobs.recv().await {
            Some(job) => job,
            // The sending stage is gone (shutdown): nothing will ever come.
            None => std::future::pending().await,
        }
    }

    /// Waits until `parts` more SMS parts fit under the operator's TPS cap.
    pub async fn pace(&self, parts: u32) {
        for _ in 0..parts {
            self.limiter.until_ready().await;
        }
    }
}

/// A quota that never exceeds `tps` parts in any one-second window: a small burst plus a
/// steady rate, whose sum is the cap (a plain per-second quota can send nearly twice the cap
/// in a second that starts with a full bucket).
pub fn strict_quota(tps: u32) -> Quota {
    // 5% headroom for jitter between taking a token and the PDU reaching the operator.
    let tps = (tps - tps / 20).max(1);
    let burst = (tps / 20).max(1);
    let steady = (tps - burst).max(1);
    let period = Duration::from_nanos(1_000_000_000 / steady as u64);
    Quota::with_period(period)
        .expect("a non-zero period")
        .allow_burst(NonZeroU32::new(burst).expect("burst is at least one"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_quota_fits_the_cap_in_any_second() {
        for tps in [2u32, 5, 20, 100, 1000, 20_000] {
            let q = strict_quota(tps);
            let per_second = 1_000_000_000u128 / q.replenish_interval().as_nanos();
            let worst_second = per_second as u32 + q.burst_size().get();
            assert!(worst_second <= tps, "tps {tps}: {worst_second}");
        }
    }
}
