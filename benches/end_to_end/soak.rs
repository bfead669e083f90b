//! Scenario E (`--only soak`): a steady load for a long time, to see whether the daemon's
//! memory and disk follow the live queue or the history it keeps.
//!
//! The real `khabar` binary runs as a child process over a fresh temporary data dir (in
//! `TMPDIR`), with three operators at smpp-sim in this process (2 binds × window 100, a
//! 20,000 parts/s cap each, a receipt for every part after 0–50 ms) and `[store]` defaults
//! unless `--erase-texts-after` is given; with `--subscribe` an upstream follows the events
//! and acknowledges them ([`subscriber`]). Two connections submit `submit_batch`es at a steady
//! `--rate` (default 2,000 messages/s): each owes half the rate since the start and pays what
//! it owes every 200 ms, the two a tick apart, so a batch of a tenth of the rate leaves every
//! 100 ms. A late connection catches up, but by at most one second's worth at a time: what it
//! owes beyond that is shed and counted. The mix is [`traffic::soak_request`]'s.
//!
//! Every `--sample-secs` (30) one line: the daemon's VmRSS, the data dir's size on disk
//! (allocated blocks, recursively), the messages accepted and final so far (final = accepted
//! less the daemon's queue depth; a batch answered between the two readings makes it a little
//! low, never high) and the queue depth. After `--minutes` (30; `--quick` 2) the load stops,
//! the bench waits for every accepted message to be final, samples, waits `--settle-secs` (60)
//! and samples again, stops the daemon with SIGTERM and measures the data dir once more. Then
//! a summary table, the data dir's split by top-level entry (a large directory, the store,
//! by its own entries too), and every sample as a table. The free space the run will need is
//! checked first.

use crate::harness::{self, Process, Shape};
use crate::{subscriber, thousands, traffic};
use khabar::api::client::Client;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

/// Submitting connections; batches leave them in turn.
const LOADERS: u32 = 2;
/// Time between two batches (from different connections).
const TICK: Duration = Duration::from_millis(100);
/// The most messages in one `submit_batch` (a catch-up is split into batches of this).
const MAX_BATCH: u64 = 1_000;
/// The longest a request may wait for its answer before the run is called failed.
const ANSWER_PATIENCE: Duration = Duration::from_secs(30);
/// The longest the bench waits, after the load, for every message to be final.
const DRAIN_PATIENCE: Duration = Duration::from_secs(600);
/// The longest the daemon may take to exit after SIGTERM (then it is killed).
const STOP_PATIENCE: Duration = Duration::from_secs(120);
/// `[scheduler] housekeeping_every` when texts are to be erased (the default is 10 minutes).
const HOUSEKEEPING_EVERY: &str = "15s";
/// Messages smpp-sim keeps for inspection (the bench never reads them).
const SIM_HOLDS: usize = 10_000;
/// Disk a finished message may take, with room to spare (the summary measures it): the free
/// space needed is checked before the run.
const BYTES_PER_MESSAGE: u64 = 6_000;
/// Free space kept beyond that (the daemon's own reserve is 256 MiB).
const HEADROOM: u64 = 1 << 30;
/// A data dir entry this large is split further in the summary.
const SPLIT_FROM: u64 = 1 << 20;
const MIB: f64 = (1 << 20) as f64;

/// What one soak run does.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Messages submitted per second.
    pub rate: u64,
    /// How long the load lasts.
    pub duration: Duration,
    /// Time between two samples during the load.
    pub sample_every: Duration,
    /// Time between every message being final and the last sample before the stop.
    pub settle: Duration,
    /// `[store] erase_texts_after` for the daemon (a humantime duration such as "1m"); the
    /// daemon's default (30 days) when absent.
    pub erase_texts_after: Option<String>,
    /// An upstream follows the events on a durable cursor and acknowledges them
    /// ([`subscriber::follow`]), so the daemon trims them; without one the events stay
    /// `keep_events_for` (7 days).
    pub subscribe: bool,
}

impl Default for Plan {
    fn default() -> Self {
        Plan {
            rate: 2_000,
            duration: Duration::from_secs(30 * 60),
            sample_every: Duration::from_secs(30),
            settle: Duration::from_secs(60),
            erase_texts_after: None,
            subscribe: false,
        }
    }
}

/// What the submitting connections have done so far.
#[derive(Default)]
struct Counters {
    /// The next message number to hand out.
    next: AtomicU64,
    /// Messages newly stored.
    accepted: AtomicU64,
    /// Messages answered as duplicates of a known reference.
    duplicates: AtomicU64,
    /// Messages refused.
    rejected: AtomicU64,
    /// Messages the pacing skipped because a connection was over a second behind.
    shed: AtomicU64,
    /// The slowest `submit_batch` answer, µs.
    slowest_us: AtomicU64,
}

/// One reading of the daemon.
#[derive(Clone, Debug)]
struct Sample {
    /// Seconds since the load started.
    at_s: f64,
    /// "start", "load", "end", "final", "settled" or "stopped".
    phase: &'static str,
    /// VmRSS, MiB (0 once stopped).
    rss_mib: f64,
    /// The data dir's size on disk, bytes.
    disk: u64,
    /// Messages accepted so far.
    accepted: u64,
    /// Messages final so far (accepted less the queue depth).
    finals: u64,
    /// Messages not yet final.
    depth: u64,
    /// The daemon's CPU seconds since the load started.
    cpu_s: f64,
}

impl Sample {
    fn print(&self) {
        println!(
            "  {:>6} {:<8} RSS {:>7.1} MiB  disk {:>8.1} MiB  accepted {:>10}  final {:>10}  \
             queue {:>8}  daemon CPU {:>7.1} s",
            clock(self.at_s),
            self.phase,
            self.rss_mib,
            self.disk as f64 / MIB,
            thousands(self.accepted as f64),
            thousands(self.finals as f64),
            thousands(self.depth as f64),
            self.cpu_s,
        );
    }
}

/// `90.4` → `1:30`.
fn clock(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    format!("{}:{:02}", s / 60, s % 60)
}

/// `bytes` as MiB, or KiB below one MiB.
fn size(bytes: u64) -> String {
    if bytes as f64 >= MIB {
        format!("{:.1} MiB", bytes as f64 / MIB)
    } else {
        format!("{:.0} KiB", bytes as f64 / 1024.0)
    }
}

/// Submits at `share` messages/s from `client` from `start` until `duration` has passed.
async fn load(
    mut client: Client,
    turn: u32,
    share: f64,
    duration: Duration,
    start: Instant,
    counters: Arc<Counters>,
    tag: Arc<str>,
) -> Result<(), String> {
    let period = TICK * LOADERS;
    let mut ticks = tokio::time::interval_at(start + TICK * turn, period);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    // One second's worth: the most one tick sends.
    let burst = share.ceil() as u64;
    // Sent or shed by this connection.
    let mut done = 0u64;
    let rounds = duration.as_millis() / period.as_millis() + 3;
    for _ in 0..rounds {
        ticks.tick().await;
        let t = start.elapsed().min(duration);
        let due = (share * t.as_secs_f64()) as u64;
        let mut owed = due.saturating_sub(done);
        if owed > burst {
            counters.shed.fetch_add(owed - burst, Ordering::Relaxed);
            done += owed - burst;
            owed = burst;
        }
        while owed > 0 {
            let count = owed.min(MAX_BATCH);
            let first = counters.next.fetch_add(count, Ordering::Relaxed);
            let batch = (first..first + count)
                .map(|n| traffic::soak_request(n, &tag))
                .collect();
            let asked = Instant::now();
            let reply = tokio::time::timeout(ANSWER_PATIENCE, client.submit_batch(batch))
                .await
                .map_err(|_| format!("a submit_batch unanswered after {ANSWER_PATIENCE:?}"))?
                .map_err(|e| e.to_string())?
                .map_err(|e| format!("submit_batch refused: {e}"))?;
            let took = asked.elapsed().as_micros() as u64;
            counters.slowest_us.fetch_max(took, Ordering::Relaxed);
            counters
                .accepted
                .fetch_add(reply.accepted as u64, Ordering::Relaxed);
            counters
                .duplicates
                .fetch_add(reply.duplicates as u64, Ordering::Relaxed);
            counters
                .rejected
                .fetch_add(reply.rejected as u64, Ordering::Relaxed);
            owed -= count;
            done += count;
        }
        if t >= duration {
            break;
        }
    }
    Ok(())
}

/// The daemon under test and what the bench watches it with.
struct Watched {
    process: Process,
    status: Client,
    data: PathBuf,
    start: Instant,
    cpu_at_start: f64,
}

impl Watched {
    /// Messages not yet final, from the daemon's status.
    async fn depth(&mut self) -> Result<u64, String> {
        let status = tokio::time::timeout(ANSWER_PATIENCE, self.status.status())
            .await
            .map_err(|_| format!("status unanswered after {ANSWER_PATIENCE:?}"))?
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        Ok(status.queue.depth)
    }

    /// Reads everything; `accepted` is read before the status (so `finals` is never high).
    async fn sample(&mut self, phase: &'static str, counters: &Counters) -> Result<Sample, String> {
        if !self.process.running() {
            return Err("khabar exited during the run".into());
        }
        let accepted = counters.accepted.load(Ordering::Relaxed);
        let depth = self.depth().await?;
        let sample = Sample {
            at_s: self.start.elapsed().as_secs_f64(),
            phase,
            rss_mib: self.process.rss_mib().0,
            disk: harness::disk_bytes(&self.data),
            accepted,
            finals: accepted.saturating_sub(depth),
            depth,
            cpu_s: self.process.cpu_s() - self.cpu_at_start,
        };
        sample.print();
        Ok(sample)
    }
}

/// A directory's entries and their sizes on disk, by name.
fn entries(dir: &Path) -> Vec<(String, u64)> {
    let mut entries: Vec<(String, u64)> = std::fs::read_dir(dir)
        .map(|dir| {
            dir.filter_map(Result::ok)
                .map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    (name, harness::disk_bytes(&e.path()))
                })
                .collect()
        })
        .unwrap_or_default();
    entries.sort();
    entries
}

/// Size on disk of each top-level entry of `data`, by name, and, for a directory of at least
/// [`SPLIT_FROM`] bytes (the store), of each of its own entries too (`store/db`).
fn split(data: &Path) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    for (name, bytes) in entries(data) {
        let path = data.join(&name);
        let inside = if bytes >= SPLIT_FROM && path.is_dir() {
            entries(&path)
        } else {
            Vec::new()
        };
        out.push((name.clone(), bytes));
        out.extend(inside.into_iter().map(|(n, b)| (format!("{name}/{n}"), b)));
    }
    out
}

/// Least-squares slope of `y` over `x`; 0 with fewer than two distinct `x`.
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if points.len() < 2 {
        return 0.0;
    }
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    if sxx > 0.0 { sxy / sxx } else { 0.0 }
}

/// The load sample nearest `at_s` seconds.
fn nearest(load: &[&Sample], at_s: f64) -> Option<Sample> {
    load.iter()
        .min_by(|a, b| (a.at_s - at_s).abs().total_cmp(&(b.at_s - at_s).abs()))
        .map(|s| (*s).clone())
}

/// How many of the daemon's warnings the summary prints.
const WARNINGS_SHOWN: usize = 40;

/// What the end of the run found, beyond the samples.
struct Ending {
    drained_s: Option<f64>,
    daemon_cpu_s: f64,
    peak_rss_mib: f64,
    split_settled: Vec<(String, u64)>,
    split_stopped: Vec<(String, u64)>,
    exit: String,
    log_bytes: u64,
    /// The daemon's WARN and ERROR lines.
    warnings: Vec<String>,
    sim: String,
    /// With `--subscribe`: the events the subscriber read, and the last seq it acknowledged.
    events: Option<(u64, u64)>,
}

fn summary(plan: &Plan, samples: &[Sample], counters: &Counters, end: &Ending) {
    let duration_s = plan.duration.as_secs_f64();
    let load: Vec<&Sample> = samples
        .iter()
        .filter(|s| matches!(s.phase, "load" | "end"))
        .collect();
    let find = |phase: &str| samples.iter().find(|s| s.phase == phase);
    let (Some(start), Some(last_load)) = (find("start"), load.last()) else {
        println!("  (too few samples for a summary)");
        return;
    };
    let disk_of = |phase: &str| find(phase).map_or("–".to_string(), |s| size(s.disk));
    let accepted = counters.accepted.load(Ordering::Relaxed);
    let finals = samples
        .iter()
        .rev()
        .find(|s| s.phase != "stopped")
        .map_or(0, |s| s.finals);
    let stopped = find("stopped").map_or(0, |s| s.disk);
    let mut rows: Vec<(String, String)> = Vec::new();
    for fraction in [1.0 / 30.0, 1.0 / 3.0, 2.0 / 3.0, 1.0] {
        if let Some(s) = nearest(&load, duration_s * fraction) {
            rows.push((
                format!("RSS at {}", clock(s.at_s)),
                format!("{:.1} MiB", s.rss_mib),
            ));
        }
    }
    let last_third: Vec<f64> = load
        .iter()
        .filter(|s| s.at_s >= duration_s * 2.0 / 3.0 - 1.0)
        .map(|s| s.rss_mib)
        .collect();
    if !last_third.is_empty() {
        let mean = last_third.iter().sum::<f64>() / last_third.len() as f64;
        let max = last_third.iter().copied().fold(0.0, f64::max);
        rows.push((
            format!(
                "RSS over the last third ({}–{}, {} samples), mean / max",
                clock(duration_s * 2.0 / 3.0),
                clock(duration_s),
                last_third.len()
            ),
            format!("{mean:.1} / {max:.1} MiB"),
        ));
    }
    if let Some(third) = nearest(&load, duration_s / 3.0) {
        let change = |s: &Sample| format!("{:+.1} %", (s.rss_mib / third.rss_mib - 1.0) * 100.0);
        rows.push((
            format!(
                "RSS change, end of the first third ({}) → end of the load",
                clock(third.at_s)
            ),
            change(last_load),
        ));
        if let Some(settled) = samples.iter().rev().find(|s| s.phase != "stopped") {
            rows.push((
                format!(
                    "RSS change, end of the first third → last sample ({}, {})",
                    settled.phase,
                    clock(settled.at_s)
                ),
                change(settled),
            ));
        }
    }
    let later: Vec<&&Sample> = load
        .iter()
        .filter(|s| s.at_s >= duration_s / 3.0 - 1.0)
        .collect();
    let per_minute = |f: fn(&Sample) -> f64| {
        slope(
            &later
                .iter()
                .map(|s| (s.at_s / 60.0, f(s)))
                .collect::<Vec<_>>(),
        )
    };
    rows.push((
        "RSS growth over the last two thirds (least squares)".into(),
        format!("{:+.2} MiB/min", per_minute(|s| s.rss_mib)),
    ));
    rows.push((
        "peak RSS (VmHWM) at the stop".into(),
        format!("{:.1} MiB", end.peak_rss_mib),
    ));
    rows.push(("disk of the fresh data dir".into(), size(start.disk)));
    rows.push((
        format!("disk at the end of the load ({})", clock(last_load.at_s)),
        size(last_load.disk),
    ));
    rows.push(("disk when every message is final".into(), disk_of("final")));
    rows.push((
        format!("disk settled ({} s later)", plan.settle.as_secs()),
        disk_of("settled"),
    ));
    rows.push(("disk after the stop (SIGTERM)".into(), size(stopped)));
    rows.push((
        "disk growth over the last two thirds (least squares)".into(),
        format!("{:+.1} MiB/min", per_minute(|s| s.disk as f64) / MIB),
    ));
    let marginal = slope(
        &later
            .iter()
            .map(|s| (s.accepted as f64, s.disk as f64))
            .collect::<Vec<_>>(),
    );
    rows.push((
        "disk per message accepted over the last two thirds (slope)".into(),
        format!("{marginal:.0} B"),
    ));
    if finals > 0 {
        rows.push((
            "disk per finished message after the stop (whole data dir / messages)".into(),
            format!("{:.0} B", stopped as f64 / finals as f64),
        ));
        rows.push((
            "… less the fresh data dir".into(),
            format!(
                "{:.0} B",
                stopped.saturating_sub(start.disk) as f64 / finals as f64
            ),
        ));
        rows.push((
            "daemon CPU per message (load start → every message final)".into(),
            format!("{:.0} µs", end.daemon_cpu_s * 1e6 / finals as f64),
        ));
    }
    rows.push((
        "daemon CPU during the load".into(),
        format!(
            "{:.0} % of a core",
            last_load.cpu_s / last_load.at_s.max(1e-3) * 100.0
        ),
    ));
    rows.push((
        "messages accepted / final".into(),
        format!(
            "{} / {}",
            thousands(accepted as f64),
            thousands(finals as f64)
        ),
    ));
    rows.push((
        "accepted per second over the load".into(),
        format!("{:.0} msg/s", accepted as f64 / last_load.at_s.max(1e-3)),
    ));
    rows.push((
        "shed by the pacing / duplicates / refused".into(),
        format!(
            "{} / {} / {}",
            thousands(counters.shed.load(Ordering::Relaxed) as f64),
            thousands(counters.duplicates.load(Ordering::Relaxed) as f64),
            thousands(counters.rejected.load(Ordering::Relaxed) as f64),
        ),
    ));
    rows.push((
        "queue depth sampled during the load, max".into(),
        thousands(load.iter().map(|s| s.depth).max().unwrap_or(0) as f64),
    ));
    rows.push((
        "slowest submit_batch answer".into(),
        format!(
            "{:.1} ms",
            counters.slowest_us.load(Ordering::Relaxed) as f64 / 1000.0
        ),
    ));
    rows.push((
        "end of the load → every message final".into(),
        end.drained_s
            .map_or("not within the wait".into(), |s| format!("{s:.1} s")),
    ));
    if let Some((read, last)) = end.events {
        rows.push((
            "events the subscriber read (last seq acknowledged)".into(),
            format!("{} ({})", thousands(read as f64), thousands(last as f64)),
        ));
    }
    rows.push(("the daemon's exit after SIGTERM".into(), end.exit.clone()));
    rows.push((
        "the daemon's log (outside the data dir)".into(),
        size(end.log_bytes),
    ));

    let mut erase = plan
        .erase_texts_after
        .as_deref()
        .map_or("[store] defaults".to_string(), |e| {
            format!("erase_texts_after = {e:?}, housekeeping every {HOUSEKEEPING_EVERY}")
        });
    if plan.subscribe {
        erase.push_str(", events acknowledged by a subscriber");
    }
    println!();
    println!(
        "| E soak: {} msg/s for {} ({erase}) | |",
        thousands(plan.rate as f64),
        clock(duration_s)
    );
    println!("| --- | ---: |");
    for (what, value) in &rows {
        println!("| {what} | {value} |");
    }

    println!();
    println!("| data dir entry | settled (running) | after the stop |");
    println!("| --- | ---: | ---: |");
    // Both lists in the order split() made them (each directory followed by its entries).
    let mut names: Vec<&String> = Vec::new();
    for (name, _) in end.split_settled.iter().chain(&end.split_stopped) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    let of = |list: &[(String, u64)], name: &str| {
        list.iter()
            .find(|(n, _)| n == name)
            .map_or("–".to_string(), |(_, b)| size(*b))
    };
    for name in names {
        println!(
            "| data/{name} | {} | {} |",
            of(&end.split_settled, name),
            of(&end.split_stopped, name)
        );
    }

    println!();
    println!("| elapsed | phase | RSS MiB | disk MiB | accepted | final | queue | daemon CPU s |");
    println!("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for s in samples {
        println!(
            "| {} | {} | {:.1} | {:.1} | {} | {} | {} | {:.1} |",
            clock(s.at_s),
            s.phase,
            s.rss_mib,
            s.disk as f64 / MIB,
            thousands(s.accepted as f64),
            thousands(s.finals as f64),
            thousands(s.depth as f64),
            s.cpu_s,
        );
    }
    println!();
    println!("{}", end.sim);
    println!();
    println!(
        "the daemon logged {} warnings or errors",
        end.warnings.len()
    );
    for line in end.warnings.iter().take(WARNINGS_SHOWN) {
        println!("  {line}");
    }
}

/// The `[store]` / `[scheduler]` sections the plan adds to the daemon's config: housekeeping
/// (which erases texts and trims acknowledged events) every [`HOUSEKEEPING_EVERY`] when the
/// plan erases texts or acknowledges events.
fn extra_config(plan: &Plan) -> String {
    let mut extra = String::new();
    if let Some(after) = &plan.erase_texts_after {
        extra.push_str(&format!("[store]\nerase_texts_after = {after:?}\n\n"));
    }
    if plan.erase_texts_after.is_some() || plan.subscribe {
        extra.push_str(&format!(
            "[scheduler]\nhousekeeping_every = {HOUSEKEEPING_EVERY:?}\n"
        ));
    }
    extra
}

/// Runs the load, sampling; then drains, settles and stops the daemon.
async fn soak(
    sim: &smpp_sim::SimHandle,
    plan: &Plan,
    dir: &Path,
    samples: &mut Vec<Sample>,
    counters: &Arc<Counters>,
) -> Result<Ending, String> {
    let shape: Shape = crate::e2e_shape(3);
    let extra = extra_config(plan);
    let config = harness::write_config_with(dir, sim, shape, &extra)?;
    if !extra.is_empty() {
        println!("  config added:\n{}", extra.trim_end());
    }
    let log = dir.join("khabar.log");
    let mut process = Process::spawn(&config, &dir.join("khabar.sock"), &log)?;
    if let Err(e) = process.wait_ready(sim, shape).await {
        return Err(format!(
            "{e}; the daemon's log ends:\n{}",
            process.log_tail(20)
        ));
    }
    let status = process.client().await?;
    let mut watched = Watched {
        cpu_at_start: process.cpu_s(),
        process,
        status,
        data: dir.join("data"),
        start: Instant::now(),
    };
    samples.push(watched.sample("start", counters).await?);

    let start = Instant::now();
    watched.start = start;
    watched.cpu_at_start = watched.process.cpu_s();
    let tag: Arc<str> = format!("soak{}", std::process::id()).into();
    let stop_following = CancellationToken::new();
    let events_read = Arc::new(AtomicU64::new(0));
    let follower = if plan.subscribe {
        let client = watched.process.client().await?;
        Some(tokio::spawn(subscriber::follow(
            client,
            events_read.clone(),
            stop_following.clone(),
        )))
    } else {
        None
    };
    let share = plan.rate as f64 / f64::from(LOADERS);
    let mut loaders = tokio::task::JoinSet::new();
    for turn in 0..LOADERS {
        let client = watched.process.client().await?;
        loaders.spawn(load(
            client,
            turn,
            share,
            plan.duration,
            start,
            counters.clone(),
            tag.clone(),
        ));
    }
    let every = plan.sample_every.max(Duration::from_secs(1));
    let rounds = (plan.duration.as_secs_f64() / every.as_secs_f64()).ceil() as u32;
    for k in 1..=rounds {
        let at = start + every * k;
        if at >= start + plan.duration {
            break;
        }
        tokio::time::sleep_until(at).await;
        if let Some(done) = loaders.try_join_next() {
            done.map_err(|e| e.to_string())??;
        }
        samples.push(watched.sample("load", counters).await?);
    }
    while let Some(done) = loaders.join_next().await {
        done.map_err(|e| e.to_string())??;
    }
    samples.push(watched.sample("end", counters).await?);

    let load_ended = Instant::now();
    let mut drained_s = None;
    let polls = DRAIN_PATIENCE.as_secs();
    for _ in 0..polls {
        if watched.depth().await? == 0 {
            drained_s = Some(load_ended.elapsed().as_secs_f64());
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    if drained_s.is_none() {
        println!("  not every message final within {DRAIN_PATIENCE:?} of the load's end");
    }
    let daemon_cpu_s = watched.process.cpu_s() - watched.cpu_at_start;
    samples.push(watched.sample("final", counters).await?);
    tokio::time::sleep(plan.settle).await;
    samples.push(watched.sample("settled", counters).await?);
    let split_settled = split(&watched.data);
    let peak_rss_mib = watched.process.rss_mib().1;
    stop_following.cancel();
    let events = match follower {
        Some(follower) => {
            let last = follower.await.map_err(|e| e.to_string())??;
            Some((events_read.load(Ordering::Relaxed), last))
        }
        None => None,
    };

    drop(watched.status);
    let exit = match watched.process.terminate(STOP_PATIENCE).await {
        Ok(status) => status.to_string(),
        Err(e) => e,
    };
    let last = samples.last().cloned();
    let stopped = Sample {
        at_s: start.elapsed().as_secs_f64(),
        phase: "stopped",
        rss_mib: 0.0,
        disk: harness::disk_bytes(&watched.data),
        ..last.ok_or("no sample")?
    };
    stopped.print();
    samples.push(stopped);
    Ok(Ending {
        drained_s,
        daemon_cpu_s,
        peak_rss_mib,
        split_settled,
        split_stopped: split(&watched.data),
        exit,
        log_bytes: harness::disk_bytes(&log),
        warnings: warnings(&log),
        sim: sim_line(sim),
        events,
    })
}

/// The WARN and ERROR lines of the daemon's log (a stall shows here with its step).
fn warnings(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|line| line.contains(" WARN ") || line.contains(" ERROR "))
        .map(str::to_string)
        .collect()
}

/// smpp-sim's totals over its operators, one line.
fn sim_line(sim: &smpp_sim::SimHandle) -> String {
    let stats = sim.stats();
    let sum =
        |f: fn(&smpp_sim::OperatorStats) -> u64| thousands(stats.iter().map(f).sum::<u64>() as f64);
    format!(
        "smpp-sim: {} parts accepted, {} messages, {} duplicates, {} throttled, {} rejected, \
         {} receipts acknowledged, {} pending",
        sum(|s| s.parts),
        sum(|s| s.messages),
        sum(|s| s.duplicates),
        sum(|s| s.throttled),
        sum(|s| s.rejected),
        sum(|s| s.receipts_acked),
        sum(|s| s.receipts_pending),
    )
}

/// Runs scenario E and prints its tables.
pub async fn scenario(plan: &Plan) -> Result<(), String> {
    let mix = traffic::Mix::of(1_000);
    let bulk = (0..1_000).filter(|&n| traffic::is_bulk(n)).count();
    let referenced = (0..1_000).filter(|&n| traffic::has_reference(n)).count();
    println!(
        "  {} msg/s for {} in batches of {} every {} ms from {LOADERS} connections; per 1,000 \
         messages {} parts, {} UCS-2, {} multi-part, {bulk} bulk, {referenced} with a reference",
        thousands(plan.rate as f64),
        clock(plan.duration.as_secs_f64()),
        thousands((plan.rate as f64 * TICK.as_secs_f64()).round()),
        TICK.as_millis(),
        thousands(mix.parts as f64),
        mix.ucs2,
        mix.multipart,
    );
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let messages = (plan.rate as f64 * plan.duration.as_secs_f64()) as u64;
    let need = messages * BYTES_PER_MESSAGE + HEADROOM;
    let free = khabar::store::disk::free_bytes(dir.path()).map_err(|e| e.to_string())?;
    if free < need {
        return Err(format!(
            "the soak's {} messages need about {:.1} GiB free in {} (the temporary directory; \
             set TMPDIR elsewhere, or fewer --minutes), but only {:.1} GiB is free",
            thousands(messages as f64),
            need as f64 / MIB / 1024.0,
            dir.path().display(),
            free as f64 / MIB / 1024.0,
        ));
    }
    println!("  data dir {}", dir.path().join("data").display());
    let sim = harness::simulator_holding(SIM_HOLDS).await?;
    let counters = Arc::new(Counters::default());
    let mut samples = Vec::new();
    let outcome = soak(&sim, plan, dir.path(), &mut samples, &counters).await;
    sim.shutdown().await;
    let ending = outcome?;
    summary(plan, &samples, &counters, &ending);
    // The temporary directory (the data dir and the log) is removed here.
    drop(dir);
    Ok(())
}
