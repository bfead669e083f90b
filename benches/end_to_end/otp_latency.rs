//! Scenario C (`--only otp`): one-time passwords while a bulk backlog drains.
//!
//! `bulk` messages of kind `bulk` (scenario B's texts) are accepted over the socket in batches
//! of 1,000 from 4 connections by a daemon that holds sending back (1 bind, window 1, 1 part/s
//! per operator); it then restarts over the same store with the real shape (three operators,
//! 2 binds × window 100, receipts after 0–50 ms) and drains the backlog to smpp-sim. A few
//! seconds later OTPs are asked for with the socket's `otp_send` (a code issued, rendered into
//! the `otp` template, sealed, stored) at a steady rate, each to a number of its own. (Accepted
//! while draining at full speed, the backlog drained about as fast as it filled.)
//!
//! An OTP's latency runs from its accept answer (the `otp_send` reply read by the client) to
//! smpp-sim recording its submit_sm (`ReceivedMessage::received_at`); both are this process's
//! wall clock. The daemon's own history of each OTP (`get`) splits it: `created` (stamped by
//! the store's writer as it takes the accept, before its fsync) → `submitting` (the claim) and
//! `submitting` → at the simulator. The store now claims an OTP in the same group as its
//! accept, so the first is ~0 and the second includes the fsync that precedes both the answer
//! and the hand-over. With no backlog (`--bulk 0`) the same figures show what the backlog costs.

use crate::e2e;
use crate::harness::{self, Daemon, Shape};
use crate::traffic::{self, PREFIXES};
use khabar::api::client::Client;
use khabar::api::protocol::{MessageRef, OtpSent};
use khabar::api::views::StatusReport;
use khabar::message::{Kind, MessageId, State};
use serde_json::{Value, json};
use smpp_sim::SimHandle;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::{Instant, MissedTickBehavior};

/// How big a run is.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Bulk messages queued first.
    pub bulk: u64,
    /// OTPs asked for while the bulk drains.
    pub otps: u64,
    /// OTPs asked for per second.
    pub per_second: u64,
    /// How long the backlog drains before the first OTP.
    pub settle: Duration,
}

/// What one run measured. Millisecond lists are sorted.
#[derive(Clone, Debug, Default)]
pub struct Figures {
    /// Accepting every bulk message, seconds.
    pub accept_s: f64,
    /// Bulk messages still queued (not yet handed to a bind) when the first OTP was asked for.
    pub backlog_before: u64,
    /// … and when the last OTP was answered.
    pub backlog_after: u64,
    /// Bulk parts per second reaching smpp-sim while the OTPs were being asked for.
    pub bulk_parts_per_s: f64,
    /// From the first to the last `otp_send`, seconds.
    pub window_s: f64,
    /// Accept answer → submit_sm at smpp-sim, per OTP.
    pub latency_ms: Vec<f64>,
    /// `otp_send` written → its answer read, per OTP.
    pub answer_ms: Vec<f64>,
    /// Stored (`created`) → claimed (`submitting`), per OTP, from the daemon's history.
    pub claim_ms: Vec<f64>,
    /// Claimed → at smpp-sim, per OTP.
    pub wire_ms: Vec<f64>,
    /// OTPs that never reached smpp-sim.
    pub lost: u64,
}

/// The value at quantile `q` (0–1) of a sorted list, nearest rank; NaN when empty.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// "p50 … p99 … max …" of a sorted list of milliseconds.
pub fn p50_p99_max(sorted: &[f64]) -> String {
    format!(
        "p50 {:.1} p99 {:.1} max {:.1}",
        quantile(sorted, 0.5),
        quantile(sorted, 0.99),
        quantile(sorted, 1.0)
    )
}

/// OTP `i`'s recipient: the operators in turn, numbers the bulk (`n % 10^7 < bulk`) never uses.
pub fn otp_number(i: u64) -> String {
    let prefix = PREFIXES[(i % PREFIXES.len() as u64) as usize];
    format!("{prefix}{:07}", 9_000_000 + i)
}

/// Bulk message `n`: scenario B's text, kind `bulk`.
fn bulk_item(n: u64, tag: &str) -> Value {
    let mut item = traffic::request(n, tag);
    item["kind"] = json!("bulk");
    item
}

pub fn millis_of(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

/// One answered `otp_send`.
pub struct Asked {
    /// The number it went to.
    pub number: String,
    /// Its message.
    pub id: MessageId,
    /// When its answer was read.
    pub answered: SystemTime,
    /// `otp_send` written → its answer read.
    pub answer_ms: f64,
}

/// Asks for `plan.otps` OTPs at `plan.per_second`, each on a pooled connection, without
/// waiting for one answer before asking the next (a slow answer does not slow the rate); the
/// numbers are [`otp_number`] `first`, `first + 1`, …
pub async fn ask_otps(
    socket: PathBuf,
    plan: Plan,
    run: usize,
    first: u64,
) -> Result<Vec<Asked>, String> {
    let pool: Arc<Mutex<Vec<Client>>> = Arc::default();
    let mut every = tokio::time::interval(Duration::from_secs(1) / plan.per_second.max(1) as u32);
    every.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..plan.otps {
        every.tick().await;
        let (pool, socket) = (pool.clone(), socket.clone());
        tasks.spawn(async move {
            let pooled = pool.lock().unwrap_or_else(|p| p.into_inner()).pop();
            let mut client = match pooled {
                Some(client) => client,
                None => Client::connect(&socket).await.map_err(|e| e.to_string())?,
            };
            let number = otp_number(first + i);
            let request = json!({
                "op": "otp_send",
                "to": format!("+{number}"),
                "session": format!("bench-{run}-{}", first + i),
                "purpose": "registration",
            });
            let asked = Instant::now();
            let reply = client.call::<OtpSent>(request).await;
            let answered = SystemTime::now();
            let answer_ms = asked.elapsed().as_secs_f64() * 1e3;
            let sent = reply
                .map_err(|e| e.to_string())?
                .map_err(|e| format!("otp_send {i}: {e}"))?;
            pool.lock().unwrap_or_else(|p| p.into_inner()).push(client);
            Ok::<_, String>(Asked {
                number,
                id: sent.message_id,
                answered,
                answer_ms,
            })
        });
    }
    let mut asked = Vec::new();
    while let Some(done) = tasks.join_next().await {
        asked.push(done.map_err(|e| e.to_string())??);
    }
    Ok(asked)
}

/// Reads every message smpp-sim records from now on until each of `numbers` has been seen or
/// `deadline`; returns when each number's first message arrived. The simulator must hold every
/// message of the run (no eviction), so its held count only grows.
pub async fn watch_arrivals(
    sim: SimHandle,
    numbers: Vec<String>,
    deadline: Instant,
    cap: usize,
) -> Result<HashMap<String, SystemTime>, String> {
    let mut waiting: std::collections::HashSet<String> = numbers.into_iter().collect();
    let mut arrived = HashMap::new();
    let held = sim.message_count();
    let mut read_up_to = *held.borrow();
    while !waiting.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now_held = *held.borrow();
        if now_held >= cap {
            return Err(format!("smpp-sim held {cap} messages; raise its cap"));
        }
        // A margin covers messages recorded between reading the count and reading the list.
        for m in sim.last_messages(now_held - read_up_to + 1_000) {
            if waiting.remove(&m.destination) {
                arrived.insert(m.destination, m.received_at);
            }
        }
        read_up_to = now_held;
    }
    Ok(arrived)
}

/// Bulk messages not yet handed to a bind.
async fn bulk_backlog(client: &mut Client) -> Result<u64, String> {
    let status: StatusReport = client
        .status()
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    Ok(status
        .lanes
        .iter()
        .filter(|l| l.kind == Kind::Bulk)
        .map(|l| l.queued)
        .sum())
}

fn sim_parts(sim: &SimHandle) -> u64 {
    sim.stats().iter().map(|s| s.parts).sum()
}

/// When the daemon's history says `id` was stored and first claimed, ms since the epoch.
async fn claimed_at(client: &mut Client, id: MessageId) -> Result<(f64, Option<f64>), String> {
    let view = client
        .get(&MessageRef::Id(id))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let claimed = view
        .history
        .iter()
        .find(|t| t.state == State::Submitting)
        .map(|t| t.at as f64);
    Ok((view.created as f64, claimed))
}

/// Runs scenario C once with a fresh simulator and daemon shaped as `shape`.
pub async fn run(plan: Plan, shape: Shape, run: usize) -> Result<Figures, String> {
    let cap = (plan.bulk + plan.otps) as usize + 100_000;
    let sim = harness::simulator_holding(cap).await?;
    // the backlog is accepted with sending held back (1 part/s per operator), then the daemon
    // restarts with its real shape: a full-speed drain would empty it as fast as it fills
    let held = Shape {
        binds: 1,
        window: 1,
        tps: 1,
        ..shape
    };
    let filling = Daemon::start(&sim, held).await?;
    let started = Instant::now();
    let tag = format!("o{run}");
    let accepted = e2e::submit_batches(&filling, plan.bulk, move |n| bulk_item(n, &tag)).await?;
    let accept_s = started.elapsed().as_secs_f64();
    if accepted != plan.bulk {
        return Err(format!(
            "{accepted} of {} bulk messages accepted",
            plan.bulk
        ));
    }
    let daemon = filling.restart(&sim, shape).await?;
    let outcome = measure(&sim, &daemon, plan, run, cap).await;
    daemon.stop().await?;
    sim.shutdown().await;
    outcome.map(|figures| Figures {
        accept_s,
        ..figures
    })
}

async fn measure(
    sim: &SimHandle,
    daemon: &Daemon,
    plan: Plan,
    run: usize,
    cap: usize,
) -> Result<Figures, String> {
    let mut figures = Figures::default();
    tokio::time::sleep(plan.settle).await;
    let mut client = daemon.client().await?;

    let numbers = (0..plan.otps).map(otp_number).collect();
    let window = Duration::from_secs_f64(plan.otps as f64 / plan.per_second.max(1) as f64);
    // An OTP may wait up to its 60 s send_by; after that it is expired, never sent.
    let deadline = Instant::now() + window + Duration::from_secs(90);
    let watcher = tokio::spawn(watch_arrivals(sim.clone(), numbers, deadline, cap));
    figures.backlog_before = bulk_backlog(&mut client).await?;
    let (parts_before, asking) = (sim_parts(sim), Instant::now());
    let asked = ask_otps(daemon.socket.clone(), plan, run, 0).await?;
    figures.window_s = asking.elapsed().as_secs_f64();
    let bulk_parts = sim_parts(sim).saturating_sub(parts_before + plan.otps);
    figures.bulk_parts_per_s = bulk_parts as f64 / figures.window_s.max(1e-3);
    figures.backlog_after = bulk_backlog(&mut client).await?;
    let arrived = watcher.await.map_err(|e| e.to_string())??;

    for otp in &asked {
        figures.answer_ms.push(otp.answer_ms);
        let Some(&at_sim) = arrived.get(&otp.number) else {
            figures.lost += 1;
            continue;
        };
        let at_sim = millis_of(at_sim);
        figures.latency_ms.push(at_sim - millis_of(otp.answered));
        if let (created, Some(claimed)) = claimed_at(&mut client, otp.id).await? {
            figures.claim_ms.push(claimed - created);
            figures.wire_ms.push(at_sim - claimed);
        }
    }
    for list in [
        &mut figures.latency_ms,
        &mut figures.answer_ms,
        &mut figures.claim_ms,
        &mut figures.wire_ms,
    ] {
        list.sort_by(f64::total_cmp);
    }
    Ok(figures)
}

/// Runs scenario C `args.runs` times and adds its rows to the table.
pub async fn scenario(args: &crate::Args, rows: &mut Vec<crate::Row>) -> Result<(), String> {
    use crate::{Row, thousands};
    let plan = args.otp;
    let name = format!(
        "C otp ({} OTPs at {}/s behind {} bulk)",
        thousands(plan.otps as f64),
        plan.per_second,
        thousands(plan.bulk as f64)
    );
    let row = |what: &str, unit| Row::new(format!("{name}: {what}"), unit);
    let mut latency = [
        row("accept answer → at smpp-sim, p50", "ms"),
        row("accept answer → at smpp-sim, p99", "ms"),
        row("accept answer → at smpp-sim, max", "ms"),
    ];
    let mut claim = row("stored → claimed (daemon history), p99", "ms");
    let mut wire = row("claimed → at smpp-sim, p99", "ms");
    let mut answer = row("otp_send answered, p99", "ms");
    let mut before = row("bulk still queued at the first OTP", "messages");
    let mut after = row("bulk still queued at the last OTP", "messages");
    let mut bulk_rate = row("bulk parts/s at smpp-sim meanwhile", "parts/s");
    let mut lost = row("OTPs that never reached smpp-sim", "OTPs");
    for run in 0..args.runs {
        let f = self::run(plan, crate::e2e_shape(3), run).await?;
        let q = |list: &[f64], at: f64| quantile(list, at);
        println!(
            "  run {}: bulk accepted in {:.1} s; {} OTPs in {:.1} s: accept → smpp-sim p50 {:.1} \
             p90 {:.1} p99 {:.1} max {:.1} ms (stored → claimed p50 {:.1} p99 {:.1}, claimed → \
             smpp-sim p50 {:.1} p99 {:.1}, otp_send answered p50 {:.1} p99 {:.1} ms); {} lost; \
             bulk queued {} → {}, {} bulk parts/s meanwhile",
            run + 1,
            f.accept_s,
            f.answer_ms.len(),
            f.window_s,
            q(&f.latency_ms, 0.5),
            q(&f.latency_ms, 0.9),
            q(&f.latency_ms, 0.99),
            q(&f.latency_ms, 1.0),
            q(&f.claim_ms, 0.5),
            q(&f.claim_ms, 0.99),
            q(&f.wire_ms, 0.5),
            q(&f.wire_ms, 0.99),
            q(&f.answer_ms, 0.5),
            q(&f.answer_ms, 0.99),
            f.lost,
            thousands(f.backlog_before as f64),
            thousands(f.backlog_after as f64),
            thousands(f.bulk_parts_per_s),
        );
        for (row, at) in latency.iter_mut().zip([0.5, 0.99, 1.0]) {
            row.samples.push(q(&f.latency_ms, at));
        }
        claim.samples.push(q(&f.claim_ms, 0.99));
        wire.samples.push(q(&f.wire_ms, 0.99));
        answer.samples.push(q(&f.answer_ms, 0.99));
        before.samples.push(f.backlog_before as f64);
        after.samples.push(f.backlog_after as f64);
        bulk_rate.samples.push(f.bulk_parts_per_s);
        lost.samples.push(f.lost as f64);
    }
    rows.extend(latency);
    rows.extend([claim, wire, answer, before, after, bulk_rate, lost]);
    Ok(())
}
