//! What all binds of one operator share: settings, credentials, the job queues (OTPs on their
//! own, taken first), the rate cap (OTPs paced ahead of the rest).

use crate::sessions::config::{OperatorConfig, Secret};
use crate::sessions::health::OperatorHealth;
use crate::sessions::job::Job;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, mpsc, watch};

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
    /// In cluster mode, whether this node holds the operator's lease (see
    /// [`crate::sessions::Endpoint::lease`]).
    pub lease: Option<watch::Receiver<bool>>,
    limiter: DefaultDirectRateLimiter,
    /// Non-urgent parts wait for the rate cap one at a time, so an urgent part competes with
    /// at most one of them for the next token instead of with a whole window.
    pace_turn: Mutex<()>,
    jobs: Mutex<Queues>,
}

/// The binds' side of the job queues.
struct Queues {
    urgent: mpsc::Receiver<Job>,
    normal: mpsc::Receiver<Job>,
    /// Urgent jobs taken in a row.
    run: u32,
}

/// Where the sending stage puts an operator's jobs: urgent ones (OTPs) on their own queue.
#[derive(Clone)]
pub struct JobQueue {
    urgent: mpsc::Sender<Job>,
    normal: mpsc::Sender<Job>,
}

impl JobQueue {
    /// Queues a job for the operator's binds; gives it back when the binds are gone.
    pub async fn send(&self, job: Job) -> Result<(), Job> {
        let queue = if job.urgent() {
            &self.urgent
        } else {
            &self.normal
        };
        queue.send(job).await.map_err(|unsent| unsent.0)
    }
}

impl OperatorLink {
    /// A link for `config`, connecting to `host:port`; returns it with the sender for its jobs.
    pub fn new(
        config: OperatorConfig,
        host: &str,
        port: u16,
        password: Secret,
        tls: Option<rustls::ClientConfig>,
        lease: Option<watch::Receiver<bool>>,
    ) -> (Arc<Self>, JobQueue) {
        let binds = match config.bind_mode {
            crate::sessions::config::BindMode::Transceiver => config.binds as usize,
            crate::sessions::config::BindMode::TransmitterReceiver => 2 * config.binds as usize,
        };
        // Room for every bind's window, so a job waits here only when all windows are full.
        let room = (config.binds * config.window).max(1) as usize;
        let (urgent_tx, urgent_rx) = mpsc::channel(room);
        let (normal_tx, normal_rx) = mpsc::channel(room);
        let scheme = if config.tls { "smpps" } else { "smpp" };
        let link = Arc::new(OperatorLink {
            name: Arc::from(config.name.as_str()),
            url: format!("{scheme}://{host}:{port}"),
            address: format!("{host}:{port}"),
            password,
            tls,
            health: OperatorHealth::new(&config.name, binds, config.tps),
            lease,
            limiter: RateLimiter::direct(strict_quota(config.tps)),
            pace_turn: Mutex::new(()),
            jobs: Mutex::new(Queues {
                urgent: urgent_rx,
                normal: normal_rx,
                run: 0,
            }),
            config,
        });
        let queue = JobQueue {
            urgent: urgent_tx,
            normal: normal_tx,
        };
        (link, queue)
    }

    /// Whether this node may bind the operator now (always, outside cluster mode).
    pub fn may_bind(&self) -> bool {
        self.lease.as_ref().is_none_or(|lease| *lease.borrow())
    }

    /// The next job for any of this operator's binds: an urgent one if any is waiting,
    /// unless `urgent_run` of them went in a row while others waited.
    pub async fn next_job(&self) -> Job {
        let mut jobs = self.jobs.lock().await;
        let queues = &mut *jobs;
        if self
            .config
            .urgent_run
            .is_some_and(|most| queues.run >= most)
            && let Ok(job) = queues.normal.try_recv()
        {
            queues.run = 0;
            return job;
        }
        let job = tokio::select! {
            biased;
            Some(job) = queues.urgent.recv() => job,
            Some(job) = queues.normal.recv() => job,
            // The sending stage is gone (shutdown): nothing will ever come.
            else => std::future::pending().await,
        };
        queues.run = if job.urgent() {
            queues.run.saturating_add(1)
        } else {
            0
        };
        job
    }

    /// Waits until `parts` more SMS parts fit under the operator's TPS cap; `urgent` parts
    /// do not queue behind the others.
    pub async fn pace(&self, parts: u32, urgent: bool) {
        let _turn = if urgent {
            None
        } else {
            Some(self.pace_turn.lock().await)
        };
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
