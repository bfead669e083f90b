//! Scenario F, purge (`--only purge`): OTPs while retention forgets a day of finished
//! messages.
//!
//! `--purge` finished messages (1,000,000; `--quick`: 100,000) are made with the `Store` API as
//! scenario F makes them, and moved to the history tier. The `khabar` binary (three operators
//! as in B, nothing queued) is then started over that store twice, `--runs` times each:
//!
//! 1. **calm**: `forget_after` at its default, so retention finds nothing to do;
//! 2. **purging**: `forget_after = "1s"`, so the housekeeping round at start forgets every one
//!    of them, a thousand records a call, as it forgets a day's messages 180 days on.
//!
//! Each time, `--otps` (`--quick`: 500) `otp_send` at 50/s as in C: per OTP its answer time
//! and its accept answer → submit_sm at smpp-sim. The purge's own time runs from spawn to the
//! moment the last finished message is gone (`get` answers that there is no such message); only
//! the OTPs answered before then count as "while purging". Runs alternate, so the store each
//! purging run starts over is refilled first.

use crate::harness::{self, Process, Shape};
use crate::history_scale::{self, Finished};
use crate::otp_latency::{self, Plan, millis_of, p50_p99_max, quantile};
use crate::{Row, thousands};
use khabar::api::client::Client;
use khabar::api::protocol::MessageRef;
use khabar::message::MessageId;
use smpp_sim::SimHandle;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// How often the purge's progress is looked at.
const POLL: Duration = Duration::from_millis(100);
/// How long a purge may take, at most.
const PURGE_PATIENCE: Duration = Duration::from_secs(30 * 60);

/// What one start measured.
struct Figures {
    /// `otp_send` answer times of the OTPs answered while purging (all when calm), ms, sorted.
    answer_ms: Vec<f64>,
    /// Their accept answer → at smpp-sim, ms, sorted.
    latency_ms: Vec<f64>,
    /// OTPs that never reached smpp-sim.
    lost: u64,
    /// Spawn → the last finished message forgotten, s (None when calm).
    purge_s: Option<f64>,
}

/// Waits until `last` is forgotten; returns spawn → then, s, and when that was.
async fn forgotten(
    socket: PathBuf,
    last: MessageId,
    started: Instant,
) -> Result<(f64, SystemTime), String> {
    let mut client: Option<Client> = None;
    while started.elapsed() < PURGE_PATIENCE {
        if client.is_none() {
            client = Client::connect(&socket).await.ok();
        }
        if let Some(c) = client.as_mut() {
            match c.get(&MessageRef::Id(last)).await {
                Ok(Err(_)) => return Ok((started.elapsed().as_secs_f64(), SystemTime::now())),
                Ok(Ok(_)) => {}
                Err(_) => client = None,
            }
        }
        tokio::time::sleep(POLL).await;
    }
    Err(format!(
        "message {last:?} not forgotten within {PURGE_PATIENCE:?}"
    ))
}

/// Starts the daemon with `config`, asks for the OTPs of `plan` (numbers from `first`) and, when
/// `purging`, times the purge of `done`; stops it with SIGTERM.
#[allow(clippy::too_many_arguments)]
async fn start(
    sim: &SimHandle,
    dir: &Path,
    config: &Path,
    shape: Shape,
    plan: Plan,
    first: u64,
    purging: Option<MessageId>,
    run: usize,
    cap: usize,
) -> Result<Figures, String> {
    let socket = dir.join("khabar.sock");
    let log = dir.join(format!("khabar-purge-{run}.log"));
    let started = Instant::now();
    let mut process = Process::spawn(config, &socket, &log)?;
    let measured = async {
        let purge = purging.map(|last| tokio::spawn(forgotten(socket.clone(), last, started)));
        process.wait_ready(sim, shape).await?;
        let numbers = (first..first + plan.otps)
            .map(otp_latency::otp_number)
            .collect();
        let window = Duration::from_secs_f64(plan.otps as f64 / plan.per_second.max(1) as f64);
        let deadline = tokio::time::Instant::now() + window + Duration::from_secs(90);
        let watcher = tokio::spawn(otp_latency::watch_arrivals(
            sim.clone(),
            numbers,
            deadline,
            cap,
        ));
        let asked = otp_latency::ask_otps(socket.clone(), plan, run, first).await?;
        let arrived = watcher.await.map_err(|e| e.to_string())??;
        let purge = match purge {
            Some(task) => Some(task.await.map_err(|e| e.to_string())??),
            None => None,
        };
        let (purge_s, purge_end) = (purge.map(|(s, _)| s), purge.map(|(_, at)| at));
        let mut figures = Figures {
            answer_ms: Vec::new(),
            latency_ms: Vec::new(),
            lost: 0,
            purge_s,
        };
        for otp in asked {
            if purge_end.is_some_and(|end| otp.answered > end) {
                continue; // after the purge
            }
            figures.answer_ms.push(otp.answer_ms);
            match arrived.get(&otp.number) {
                Some(&at) => figures
                    .latency_ms
                    .push(millis_of(at) - millis_of(otp.answered)),
                None => figures.lost += 1,
            }
        }
        figures.answer_ms.sort_by(f64::total_cmp);
        figures.latency_ms.sort_by(f64::total_cmp);
        Ok::<_, String>(figures)
    }
    .await;
    if let Err(e) = process.terminate(harness::STOP_PATIENCE).await {
        eprintln!("  khabar {e}");
    }
    measured.map_err(|e| format!("{e}; the daemon's log ends:\n{}", process.log_tail(20)))
}

/// Makes finished messages until the store holds `size` of them, all in the history tier.
async fn fill(store_dir: &Path, size: u64, done: &mut Finished) -> Result<f64, String> {
    let started = Instant::now();
    let store = history_scale::open(store_dir)?;
    let from = done.count;
    history_scale::finish(&store, from, from + size, done).await?;
    history_scale::moved(&store, done).await?;
    history_scale::close(store).await?;
    Ok(started.elapsed().as_secs_f64())
}

/// Runs the purge scenario; adds its rows to the table.
pub async fn scenario(args: &crate::Args, rows: &mut Vec<Row>) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    // every OTP of the run held, so arrivals are read from the simulator's list
    let cap = (args.otp.otps * 2 * args.runs as u64) as usize + 100_000;
    let sim = harness::simulator_holding(cap).await?;
    let shape: Shape = crate::e2e_shape(3);
    let outcome = measure(args, dir.path(), &sim, shape, cap, rows).await;
    sim.shutdown().await;
    outcome
}

async fn measure(
    args: &crate::Args,
    dir: &Path,
    sim: &SimHandle,
    shape: Shape,
    cap: usize,
    rows: &mut Vec<Row>,
) -> Result<(), String> {
    let size = args.purge;
    let plan = Plan {
        bulk: 0,
        ..args.otp
    };
    let store_dir = dir.join("data").join("store");
    let name = format!(
        "F purge ({} finished forgotten; {} OTPs at {}/s)",
        thousands(size as f64),
        thousands(plan.otps as f64),
        plan.per_second
    );
    let row = |what: &str, unit| Row::new(format!("{name}: {what}"), unit);
    let mut rows_here = [
        row("calm: otp_send answered, p99", "ms"),
        row("calm: accept answer → at smpp-sim, p99", "ms"),
        row("purging: otp_send answered, p99", "ms"),
        row("purging: accept answer → at smpp-sim, p99", "ms"),
        row("purging: OTPs answered while purging", "OTPs"),
        row("purge: spawn → last message forgotten", "s"),
        row("OTPs that never reached smpp-sim", "OTPs"),
    ];
    let mut done = Finished::default();
    let mut first = 0;
    for run in 0..args.runs {
        let fill_s = fill(&store_dir, size, &mut done).await?;
        let last = done.ranges.last().map(|(_, last)| MessageId(*last));
        println!(
            "  run {}: {} finished messages made in {:.0} s",
            run + 1,
            thousands(size as f64),
            fill_s
        );
        let mut lost = 0;
        for purging in [false, true] {
            let forget = if purging { "1s" } else { "180days" };
            let config = harness::write_config_with(
                dir,
                sim,
                shape,
                &format!("[store]\nforget_after = {forget:?}\n"),
            )?;
            let f = start(
                sim,
                dir,
                &config,
                shape,
                plan,
                first,
                last.filter(|_| purging),
                run,
                cap,
            )
            .await?;
            first += plan.otps;
            println!(
                "  {}: {} OTPs counted: otp_send answered {} ms, accept → smpp-sim {} ms; {} \
                 lost{}",
                if purging { "purging" } else { "calm" },
                f.answer_ms.len(),
                p50_p99_max(&f.answer_ms),
                p50_p99_max(&f.latency_ms),
                f.lost,
                f.purge_s
                    .map(|s| format!("; the purge took {s:.1} s from spawn"))
                    .unwrap_or_default(),
            );
            let at = if purging { 2 } else { 0 };
            rows_here[at].samples.push(quantile(&f.answer_ms, 0.99));
            rows_here[at + 1]
                .samples
                .push(quantile(&f.latency_ms, 0.99));
            if let Some(s) = f.purge_s {
                rows_here[4].samples.push(f.answer_ms.len() as f64);
                rows_here[5].samples.push(s);
            }
            lost += f.lost;
        }
        rows_here[6].samples.push(lost as f64);
        done = Finished::default(); // forgotten
    }
    rows.extend(rows_here);
    Ok(())
}
