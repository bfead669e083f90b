//! Priority through the real `khabar` binary and a real smpp-sim over real sockets: an OTP
//! overtakes a bulk backlog that holds a slow operator for many seconds, without the
//! operator's TPS cap being exceeded; and with notifications and bulk both queued, bulk still
//! gets its minimum share of the batched claims. Every assertion is about the ORDER in which
//! the simulator received messages, never about how long anything took; waits are for
//! conditions (up to `PATIENCE`).

#[path = "daemon_priority/arrivals.rs"]
mod arrivals;
mod daemon_support;
#[path = "daemon_faults/helpers.rs"]
mod helpers;
#[path = "daemon_priority/process.rs"]
mod process;

use arrivals::{count_in_first, position, wait_for_recipients};
use daemon_support::{PATIENCE, Tuning, simulator, submit, write_tuned_config};
use helpers::{all_binds_up, delivered_once, kcell_number, submit_many, wait_for_status};
use khabar::sessions::link::strict_quota;
use process::DaemonProcess;
use serde_json::json;
use smpp_sim::SimHandle;
use std::collections::HashSet;
use std::path::Path;

/// The OTP test's operator: a low rate cap, one bind, a window of ten.
fn slow_operator() -> Tuning {
    Tuning {
        binds: 1,
        window: 10,
        tps: 20,
        ..Tuning::default()
    }
}
/// Bulk messages queued ahead of the OTP: about twenty seconds' worth at `slow_operator()`'s cap.
const BACKLOG: usize = 400;
/// At least this much of the backlog must still be unsent when the OTPs arrive.
const MOSTLY_UNSENT: usize = 300;
/// OTPs sent at once after the first one, to check the rate cap while OTPs overtake.
const OTP_BURST: usize = 10;

/// The order assertions assume the daemon under test has the machine's CPU. With this file's
/// four daemons and simulators running at once on two cores, a starved OTP dispatcher left the
/// urgent queue empty and bulk took the places (CI: 47 bulk among the first 300 arrivals of the
/// OTP flood, expected 30 ± 11), so the tests here run one at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Starts the real binary with `tuning` against `sim`; its files live in `dir`.
async fn start(dir: &Path, sim: &SimHandle, tuning: &Tuning) -> DaemonProcess {
    let config = write_tuned_config(dir, sim, tuning);
    let daemon =
        DaemonProcess::start(&config, &dir.join("khabar.sock"), &dir.join("khabar.log")).await;
    let mut client = daemon.client().await;
    wait_for_status(&mut client, "every bind up", all_binds_up).await;
    daemon
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_otp_overtakes_a_bulk_backlog_and_the_tps_cap_still_holds() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let tuning = slow_operator();
    let daemon = start(dir.path(), &sim, &tuning).await;
    let mut client = daemon.client().await;
    let bulk = submit_many(
        &mut client,
        BACKLOG,
        "bulk",
        |n| kcell_number(1, n),
        |n| format!("bulk {n}"),
    )
    .await;
    let bulk_to: HashSet<String> = bulk.iter().map(|(_, to)| to.clone()).collect();
    // Parts the binds can hold at once (each waiting in the window for a token or an answer).
    let in_window = (tuning.binds * tuning.window) as usize;
    // Once two windows' worth have arrived, the window is full of bulk parts waiting for
    // tokens and the queue behind it is full too: the OTP has the whole backlog in front.
    sim.wait_for_messages(2 * in_window, PATIENCE)
        .await
        .expect("the backlog starts to drain");

    let otp_to = kcell_number(2, 1);
    let otp = submit(&mut client, &otp_to, "Your eGov code is 4821", "otp").await;
    let at_accept = sim.messages().len();
    let arrivals = wait_for_recipients(&sim, std::slice::from_ref(&otp_to)).await;
    let otp_at = position(&arrivals, &otp_to).expect("the OTP arrived");
    // Everything before the OTP is bulk. What may legitimately still go first once it is
    // accepted: the bulk parts already holding places in the bind's window (binds × window;
    // the OTP's job takes the first place that frees, before any queued bulk job), and the
    // one bulk part that holds the pacing turn and competes with the OTP for the next token
    // (the others wait their turn behind it). Typically 1–3 go first: the part that frees
    // the place, plus one per token race the OTP loses (a race between equals). Without
    // priority the OTP would wait behind the operator's whole job queue and the claimed
    // batch as well (dozens more).
    let overtaken_by = otp_at.saturating_sub(at_accept);
    let bound = in_window + 1;
    eprintln!(
        "OTP arrived after {otp_at} of {BACKLOG} bulk; {overtaken_by} of them arrived after \
         its accept (bound {bound})"
    );
    assert!(
        BACKLOG - otp_at >= MOSTLY_UNSENT,
        "only {} of {BACKLOG} bulk messages were still unsent when the OTP arrived",
        BACKLOG - otp_at
    );
    assert!(
        overtaken_by <= bound,
        "{overtaken_by} bulk messages reached the operator between the OTP's accept and its \
         arrival (bound {bound}); daemon log:\n{}",
        daemon.log_tail(30)
    );

    // A burst of OTPs while the backlog is still draining. If OTPs skipped the rate cap, the
    // burst would land within one second on top of bulk paced at nearly the cap, and the
    // busiest second at the simulator would exceed it.
    let quota = strict_quota(tuning.tps);
    let paced_per_second = 1_000_000_000 / quota.replenish_interval().as_nanos() as usize;
    assert!(paced_per_second + OTP_BURST > tuning.tps as usize);
    let burst_to: Vec<String> = (0..OTP_BURST).map(|n| kcell_number(3, n)).collect();
    let burst = submit_many(
        &mut client,
        OTP_BURST,
        "otp",
        |n| burst_to[n].clone(),
        |n| format!("Your eGov code is {}", 5000 + n),
    )
    .await;
    let at_burst = sim.messages().len();
    let arrivals = wait_for_recipients(&sim, &burst_to).await;
    let last_otp = burst_to
        .iter()
        .filter_map(|to| position(&arrivals, to))
        .max()
        .expect("the burst arrived");
    let bulk_before_last = count_in_first(&arrivals, last_otp, &bulk_to);
    let bulk_during = bulk_before_last - count_in_first(&arrivals, at_burst, &bulk_to);
    // The OTPs take places in the window as they free, and every token is raced for by the
    // OTPs holding places and the one bulk part holding the pacing turn: besides the bulk
    // parts already in the window, allow each OTP to lose one such race.
    let burst_bound = in_window + OTP_BURST;
    eprintln!(
        "the last of {OTP_BURST} OTPs arrived after {bulk_before_last} bulk; {bulk_during} \
         arrived during the burst (bound {burst_bound})"
    );
    assert!(
        BACKLOG - bulk_before_last >= MOSTLY_UNSENT,
        "only {} of {BACKLOG} bulk messages were still unsent when the burst arrived",
        BACKLOG - bulk_before_last
    );
    assert!(
        bulk_during <= burst_bound,
        "{bulk_during} bulk messages went ahead of a burst of {OTP_BURST} OTPs (bound \
         {burst_bound})"
    );

    // The rest drains at the cap; then every message was delivered exactly once and no
    // second at the simulator held more parts than the cap.
    let mut all = bulk;
    all.push((otp, otp_to));
    all.extend(burst);
    sim.wait_for_messages(all.len(), PATIENCE)
        .await
        .expect("the backlog drains");
    let (_, extra_copies) = delivered_once(&mut client, &sim, &all).await;
    assert_eq!(extra_copies, 0, "copies sent twice");
    let kcell = sim.operator_stats("kcell").unwrap();
    eprintln!(
        "{} parts to kcell, busiest second {} (cap {})",
        kcell.parts, kcell.max_parts_per_second, tuning.tps
    );
    assert!(
        kcell.max_parts_per_second <= u64::from(tuning.tps),
        "{} parts in one second, over the cap of {}",
        kcell.max_parts_per_second,
        tuning.tps
    );
    daemon.stop().await;
}

/// Notifications queued with bulk: enough for dozens of claim batches.
const NOTIFICATIONS: usize = 1500;
/// Bulk queued with them: more than its share of the claims made while notifications last.
const BULK: usize = 100;
/// The bulk lane's minimum share of picks (khabar's shipped default, stated here).
const BULK_SHARE: f64 = 0.02;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bulk_keeps_its_minimum_share_while_notifications_are_queued() {
    // khabar's shipped default claim batch (64): longer than one bulk pick (1 / BULK_SHARE).
    bulk_share_holds(64).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bulk_keeps_its_share_with_claim_batches_shorter_than_one_bulk_pick() {
    // A claim batch shorter than 1 / BULK_SHARE picks: the share is owed across batches.
    bulk_share_holds(16).await;
}

/// Queues notifications and bulk together (one atomic batch, so both lanes are due from the
/// first claim) and checks that, at every point of the simulator's arrival order while
/// notifications remain, bulk has had its share of what arrived.
async fn bulk_share_holds(claim_batch: usize) {
    let _alone = ONE_AT_A_TIME.lock().await;
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let tuning = Tuning {
        sending: format!("claim_batch = {claim_batch}"),
        extra: format!("[scheduler.min_share]\nbulk = {BULK_SHARE}\n"),
        binds: 1,
        window: 10,
        ..Tuning::default()
    };
    let daemon = start(dir.path(), &sim, &tuning).await;
    let mut client = daemon.client().await;
    let notification_to = |n: usize| kcell_number(4, n);
    let bulk_to = |n: usize| kcell_number(5, n);
    let notifications = (0..NOTIFICATIONS).map(|n| {
        json!({"to": notification_to(n), "text": format!("notice {n}"), "kind": "notification"})
    });
    let bulk_messages =
        (0..BULK).map(|n| json!({"to": bulk_to(n), "text": format!("bulk {n}"), "kind": "bulk"}));
    let batch: Vec<_> = notifications.chain(bulk_messages).collect();
    let reply = client
        .submit_batch(batch)
        .await
        .expect("socket")
        .expect("batch accepted");
    assert!(reply.results.iter().all(|r| r.message_id.is_some()));
    let arrivals = sim
        .wait_for_messages(NOTIFICATIONS + BULK, PATIENCE)
        .await
        .expect("everything reaches the simulator");
    let bulk: HashSet<String> = (0..BULK).map(bulk_to).collect();

    // Among the first k arrivals, k ≤ NOTIFICATIONS (so notifications are still queued
    // behind them), bulk should number BULK_SHARE × k. Slack: claims come in batches whose
    // bulk picks are listed after their notifications, so a prefix that cuts a batch can
    // lack all of that batch's bulk picks (at most ⌈share × claim_batch⌉); shares are paid in
    // whole picks, so a count trails share × k by up to one more; and parts in flight in the
    // window can reach the SMSC out of claim order across binds × window positions.
    let in_window = (tuning.binds * tuning.window) as f64;
    let slack = (BULK_SHARE * claim_batch as f64).ceil() + 1.0 + BULK_SHARE * in_window;
    // (k, bulk among the first k, share × k) where the two differ most
    let mut worst = (0usize, 0usize, 0.0f64);
    let mut got = 0;
    for (k, arrival) in (1..=NOTIFICATIONS).zip(&arrivals) {
        got += usize::from(bulk.contains(&arrival.destination));
        let expected = BULK_SHARE * k as f64;
        if (got as f64 - expected).abs() > (worst.1 as f64 - worst.2).abs() {
            worst = (k, got, expected);
        }
    }
    let total = got;
    let (k, got, expected) = worst;
    eprintln!(
        "claim batch {claim_batch}: {total} bulk in the first {NOTIFICATIONS} arrivals \
         (share {BULK_SHARE} → {:.1}); worst point: {got} bulk in the first {k} (expected \
         {expected:.1} ± {slack:.2})",
        BULK_SHARE * NOTIFICATIONS as f64
    );
    assert!(
        total < BULK,
        "the bulk lane ran dry: the check says nothing"
    );
    assert!(
        (got as f64 - expected).abs() <= slack,
        "claim batch {claim_batch}: {got} bulk among the first {k} arrivals, expected \
         {expected:.1} ± {slack:.2} (share {BULK_SHARE})"
    );
    daemon.stop().await;
}

/// OTPs queued with bulk in the flood test: far more than the window, so the urgent queue
/// stays full while the share is checked.
const OTP_FLOOD: usize = 600;
/// The bulk lane's share in the flood test (the only lower lane with a share there).
const FLOOD_BULK_SHARE: f64 = 0.1;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_of_otps_still_leaves_bulk_its_minimum_share() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let tuning = Tuning {
        extra: format!(
            "[scheduler.min_share]\nrequest = 0.0\nnotification = 0.0\nbulk = {FLOOD_BULK_SHARE}\n"
        ),
        binds: 1,
        window: 10,
        tps: 200,
        ..Tuning::default()
    };
    let daemon = start(dir.path(), &sim, &tuning).await;
    let mut client = daemon.client().await;
    let otp_to = |n: usize| kcell_number(6, n);
    let bulk_to = |n: usize| kcell_number(7, n);
    let otps = (0..OTP_FLOOD)
        .map(|n| json!({"to": otp_to(n), "text": format!("code {n}"), "kind": "otp"}));
    let bulk_messages =
        (0..BULK).map(|n| json!({"to": bulk_to(n), "text": format!("bulk {n}"), "kind": "bulk"}));
    let reply = client
        .submit_batch(otps.chain(bulk_messages).collect())
        .await
        .expect("socket")
        .expect("batch accepted");
    assert!(reply.results.iter().all(|r| r.message_id.is_some()));
    let arrivals = sim
        .wait_for_messages(OTP_FLOOD + BULK, PATIENCE)
        .await
        .expect("everything reaches the simulator");
    let bulk: HashSet<String> = (0..BULK).map(bulk_to).collect();

    // While OTPs are still queued, bulk should have share × k of k arrivals. Counted from the
    // first OTP's arrival: before the OTP loop's first claim fills the urgent queue, bulk may
    // go alone for as long as that claim takes (how long depends on how the machine schedules
    // the loops, not on the shares). Then OTP_FLOOD / 2 arrivals, far from the OTPs' end.
    // Slack: bulk already in flight when the first OTP goes (binds × window), and shares are
    // paid in whole jobs (one more).
    let otps: HashSet<String> = (0..OTP_FLOOD).map(otp_to).collect();
    let first_otp = arrivals
        .iter()
        .position(|m| otps.contains(&m.destination))
        .expect("an OTP arrived");
    let checked = OTP_FLOOD / 2;
    let got = count_in_first(&arrivals[first_otp..], checked, &bulk);
    let expected = FLOOD_BULK_SHARE * checked as f64;
    let slack = (tuning.binds * tuning.window) as f64 + 1.0;
    eprintln!(
        "{got} bulk among {checked} arrivals from the first OTP (arrival {first_otp}); \
         expected {expected:.1} ± {slack}"
    );
    assert!(
        (got as f64 - expected).abs() <= slack,
        "{got} bulk among {checked} arrivals from the first OTP, expected {expected:.1} ± \
         {slack}: the lanes' shares do not hold under a flood of OTPs"
    );
    daemon.stop().await;
}
