//! Scenario B: messages submitted in batches of 1,000 while the daemon sends them to smpp-sim
//! and follows them to their receipts.
//!
//! submit_sm/s is read at the simulator: its accepted-parts counter is sampled every 10 ms,
//! and the rate is the parts over the time from the first to the last part. "All final" is
//! when the daemon's status shows no message that is not final, polled once the simulator has
//! had a receipt acknowledged for every part.

use crate::harness::{Daemon, Shape};
use crate::traffic::{self, Mix};
use serde_json::Value;
use smpp_sim::{OperatorStats, SimHandle};
use std::time::Duration;
use tokio::time::Instant;

/// Concurrent connections submitting the batches.
const SUBMITTERS: u64 = 4;
/// Messages per `submit_batch`.
const BATCH: u64 = 1_000;
/// The daemon's store writer thread (named in `khabar::store::writer`).
const WRITER_THREAD: &str = "khabar-store-write";
/// Sampling interval of the simulator's counters.
const SAMPLE: Duration = Duration::from_millis(10);

/// The figures of one run.
#[derive(Clone, Copy, Debug, Default)]
pub struct Figures {
    /// From the first batch sent to the last batch accepted, seconds.
    pub accept_s: f64,
    /// From the first batch sent to the first submit_sm at the simulator, seconds.
    pub first_submit_s: f64,
    /// SMS parts accepted by the simulator per second, first to last.
    pub submits_per_s: f64,
    /// From the first batch sent until every message is final, seconds.
    pub final_s: f64,
    /// Messages the daemon reports delivered.
    pub delivered: u64,
    /// Repeats the simulator saw (resubmits).
    pub duplicates: u64,
    /// Throttled answers at the simulator.
    pub throttled: u64,
    /// CPU seconds of the daemon's store writer thread over the run.
    pub writer_cpu_s: f64,
    /// CPU seconds of the whole process over the run (daemon, simulator, clients).
    pub process_cpu_s: f64,
}

/// When the counters first moved and when they reached the targets.
#[derive(Default)]
struct Marks {
    first_submit: Option<Instant>,
    last_part: Option<Instant>,
    all_receipts: Option<Instant>,
    duplicates: u64,
    throttled: u64,
}

/// Samples `sim`'s counters until every part and every receipt is counted or `deadline`.
async fn watch(sim: SimHandle, parts: u64, deadline: Instant) -> Marks {
    let mut marks = Marks::default();
    let sum = |stats: &[OperatorStats], f: fn(&OperatorStats) -> u64| stats.iter().map(f).sum();
    loop {
        let now = Instant::now();
        let stats = sim.stats();
        let submits: u64 = sum(&stats, |s| s.submits);
        if submits > 0 && marks.first_submit.is_none() {
            marks.first_submit = Some(now);
        }
        if sum(&stats, |s| s.parts) >= parts && marks.last_part.is_none() {
            marks.last_part = Some(now);
        }
        if sum(&stats, |s| s.receipts_acked) >= parts {
            marks.all_receipts = Some(now);
            marks.duplicates = sum(&stats, |s| s.duplicates);
            marks.throttled = sum(&stats, |s| s.throttled);
            return marks;
        }
        if now > deadline {
            return marks;
        }
        tokio::time::sleep(SAMPLE).await;
    }
}

/// Submits messages `0..count`, message `n` being `item(n)`, in `submit_batch`es of
/// [`BATCH`] from [`SUBMITTERS`] connections at once; returns how many were accepted.
pub async fn submit_batches<F>(daemon: &Daemon, count: u64, item: F) -> Result<u64, String>
where
    F: Fn(u64) -> Value + Clone + Send + 'static,
{
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..SUBMITTERS {
        let mut client = daemon.client().await?;
        let item = item.clone();
        tasks.spawn(async move {
            let mut accepted = 0u64;
            let batches = count.div_ceil(BATCH);
            for b in (c..batches).step_by(SUBMITTERS as usize) {
                let end = ((b + 1) * BATCH).min(count);
                let batch = (b * BATCH..end).map(&item).collect();
                let reply = client
                    .submit_batch(batch)
                    .await
                    .map_err(|e| e.to_string())?;
                accepted += reply.map_err(|e| e.to_string())?.accepted as u64;
            }
            Ok::<_, String>(accepted)
        });
    }
    let mut accepted = 0;
    while let Some(done) = tasks.join_next().await {
        accepted += done.map_err(|e| e.to_string())??;
    }
    Ok(accepted)
}

/// Runs `mix.messages` messages through a fresh daemon and simulator shaped as `shape`.
pub async fn run(
    mix: Mix,
    shape: Shape,
    run: usize,
    patience: Duration,
) -> Result<Figures, String> {
    let sim = crate::harness::simulator().await?;
    let daemon = Daemon::start(&sim, shape).await?;
    let cpu_before = crate::cpu::process_s();
    let writer_before = crate::cpu::threads_s(WRITER_THREAD);
    let started = Instant::now();
    let deadline = started + patience;
    let watcher = tokio::spawn(watch(sim.clone(), mix.parts, deadline));
    let tag = format!("e{run}");
    let accepted =
        submit_batches(&daemon, mix.messages, move |n| traffic::request(n, &tag)).await?;
    let accept_s = started.elapsed().as_secs_f64();
    if accepted != mix.messages {
        return Err(format!("{accepted} of {} messages accepted", mix.messages));
    }
    let marks = watcher.await.map_err(|e| e.to_string())?;
    let (Some(first), Some(last), Some(_)) =
        (marks.first_submit, marks.last_part, marks.all_receipts)
    else {
        return Err(format!(
            "not every part was submitted and receipted within {patience:?}:\n{}",
            sim.stats_report()
        ));
    };
    let mut client = daemon.client().await?;
    let status = loop {
        let status = client.status().await.map_err(|e| e.to_string())?;
        let status = status.map_err(|e| e.to_string())?;
        if status.queue.depth == 0 {
            break status;
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{} messages still not final after {patience:?}",
                status.queue.depth
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let final_s = started.elapsed().as_secs_f64();
    let writer_cpu_s = crate::cpu::threads_s(WRITER_THREAD) - writer_before;
    let process_cpu_s = crate::cpu::process_s() - cpu_before;
    daemon.stop().await?;
    sim.shutdown().await;
    let span = (last - first).as_secs_f64().max(SAMPLE.as_secs_f64());
    Ok(Figures {
        accept_s,
        first_submit_s: (first - started).as_secs_f64(),
        submits_per_s: mix.parts as f64 / span,
        final_s,
        delivered: status.last_hour.delivered,
        duplicates: marks.duplicates,
        throttled: marks.throttled,
        writer_cpu_s,
        process_cpu_s,
    })
}
