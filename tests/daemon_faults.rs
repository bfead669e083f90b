//! The real daemon against a misbehaving simulator: throttling, dropped connections, a hung
//! SMSC, operators down past an OTP's deadline, the per-number OTP limit, SIGTERM with
//! answers still outstanding, and the operator's TPS cap. Every load is bounded; waits are
//! for conditions (up to `PATIENCE`), never for a fixed time.

mod daemon_support;
#[path = "daemon_faults/helpers.rs"]
mod helpers;

use daemon_support::{Daemon, PATIENCE, Tuning, simulator, submit, wait_final, write_tuned_config};
use helpers::*;
use khabar::message::State;
use serde_json::json;
use smpp_sim::Fault;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn throttled_submits_are_retried_until_every_message_is_delivered() {
    let sim = simulator().await;
    fault_everywhere(&sim, &Fault::Throttle(0.1));
    let dir = tempfile::tempdir().unwrap();
    let tuning = Tuning {
        extra: FAST_RETRY.into(),
        ..Tuning::default()
    };
    let daemon = Daemon::start(&write_tuned_config(dir.path(), &sim, &tuning)).await;
    let mut client = daemon.client().await;
    let sent = submit_many(
        &mut client,
        600,
        "notification",
        |n| spread_number(1, n),
        |n| format!("notice {n}"),
    )
    .await;
    let (views, extra_copies) = delivered_once(&mut client, &sim, &sent).await;
    // A throttled submit is refused, not received: every message arrives exactly once.
    assert_eq!(extra_copies, 0, "a throttled submit was stored by the SMSC");
    let throttled: u64 = sim.stats().iter().map(|s| s.throttled).sum();
    assert!(throttled > 0, "the simulator throttled nothing");
    // Throttling asks the bind to slow down; the part is tried again on it, not sent to the
    // back of its lane.
    assert!(
        !some_retry_mentions(&views, "ESME_RTHROTTLED"),
        "a throttled message was put back in the queue"
    );
    // The status report counts every throttling answer the daemon got.
    let status = wait_for_status(&mut client, "the throttling", |s| {
        s.operators
            .iter()
            .map(|o| o.throttled_last_hour)
            .sum::<u64>()
            == throttled
    })
    .await;
    assert!(status.operators.iter().any(|o| o.throttled_last_minute > 0));
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_message_throttled_more_often_than_max_attempts_is_still_delivered() {
    let sim = simulator().await;
    fault_everywhere(&sim, &Fault::Throttle(1.0));
    let dir = tempfile::tempdir().unwrap();
    let tuning = Tuning {
        extra: format!("{FAST_RETRY}max_attempts = 3\n"),
        ..Tuning::default()
    };
    let daemon = Daemon::start(&write_tuned_config(dir.path(), &sim, &tuning)).await;
    let mut client = daemon.client().await;
    let to = kcell_number(2, 1);
    let id = submit(&mut client, &to, "throttled for a while", "notification").await;
    // The operator pushes back more often than the attempt limit allows for failures
    // (or the daemon gives up first).
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while sim.operator_stats("kcell").unwrap().throttled <= 3
        && !get(&mut client, id).await.state.is_final()
    {
        assert!(tokio::time::Instant::now() < deadline, "nothing happened");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    fault_everywhere(&sim, &Fault::Clear);
    let view = wait_final(&mut client, id).await;
    assert_eq!(view.state, State::Delivered, "{view:?}");
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dropped_connections_lose_nothing_and_acknowledge_nothing_twice() {
    let sim = simulator().await;
    // Each connection closes after 250 answers; now and then one closes after accepting a
    // submit but before answering it (the daemon never learns that message's id).
    sim.update_faults("kcell", |f| {
        f.drop_after_submits = Some(250);
        f.drop_probability = 0.002;
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tuning = Tuning {
        extra: FAST_RETRY.into(),
        ..Tuning::default()
    };
    let daemon = Daemon::start(&write_tuned_config(dir.path(), &sim, &tuning)).await;
    let mut client = daemon.client().await;
    let sent = submit_many(
        &mut client,
        1500,
        "notification",
        |n| kcell_number(3, n),
        |n| format!("message {n}"),
    )
    .await;
    let (_, extra_copies) = delivered_once(&mut client, &sim, &sent).await;
    let drops = sim.operator_stats("kcell").unwrap().connections_dropped;
    assert!(drops >= 2, "the connections were dropped ({drops} times)");
    // Only submits unanswered at a drop are sent again: at most a window per drop.
    let bound = drops as usize * tuning.window as usize;
    eprintln!("{drops} drops, {extra_copies} resubmitted copies (bound {bound})");
    assert!(extra_copies <= bound, "{extra_copies} copies > {bound}");
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hung_smsc_times_out_and_its_messages_are_resubmitted() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let tuning = Tuning {
        extra: FAST_RETRY.into(),
        operator: "response_timeout = \"1s\"".into(),
        ..Tuning::default()
    };
    let daemon = Daemon::start(&write_tuned_config(dir.path(), &sim, &tuning)).await;
    let mut client = daemon.client().await;
    wait_for_status(&mut client, "every bind up", all_binds_up).await;
    let binds_before: Vec<u64> = sim.stats().iter().map(|s| s.binds_total).collect();
    for op in OPERATORS {
        sim.hang(op, Duration::from_secs(3)).unwrap();
    }
    let sent = submit_many(
        &mut client,
        300,
        "notification",
        |n| spread_number(4, n),
        |n| format!("during the hang {n}"),
    )
    .await;
    let (views, extra_copies) = delivered_once(&mut client, &sim, &sent).await;
    assert!(
        some_retry_mentions(&views, "no submit_sm_resp"),
        "no message was queued again after the response timeout"
    );
    for (stats, before) in sim.stats().iter().zip(binds_before) {
        assert!(
            stats.binds_total > before,
            "{} was never bound again after the hang",
            stats.operator
        );
    }
    // What the hung SMSC read late was written before each bind gave up on it: a full window,
    // plus at most another one started as its places came free before it noticed the
    // timeout. Fewer than the messages sent.
    let bound = 2 * OPERATORS.len() * (tuning.binds * tuning.window) as usize;
    assert!(bound < sent.len());
    eprintln!("{extra_copies} copies read late by the hung SMSC (bound {bound})");
    assert!(extra_copies <= bound, "{extra_copies} copies > {bound}");
    // a support engineer sees how many parts went again for want of an answer
    let status = client.status().await.expect("socket").expect("status");
    let resent: u64 = status.operators.iter().map(|o| o.resent_unanswered).sum();
    assert!(
        resent as usize >= extra_copies,
        "status shows {resent} parts resent after no answer, the SMSC got {extra_copies} copies"
    );
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_otp_whose_send_by_passes_while_every_operator_is_down_is_never_sent() {
    let sim = simulator().await;
    fault_everywhere(&sim, &Fault::Down);
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(&write_tuned_config(dir.path(), &sim, &Tuning::default())).await;
    let mut client = daemon.client().await;
    let otp_to = kcell_number(5, 1);
    let otp = client
        .submit(json!({
            "to": otp_to, "text": "Your eGov code is 4821", "kind": "otp",
            "send_by": rfc3339_in(Duration::from_secs(2)),
        }))
        .await
        .expect("socket")
        .expect("accepted")
        .message_id;
    let view = wait_final(&mut client, otp).await;
    assert_eq!(view.state, State::Expired, "{view:?}");
    assert!(view.history.iter().all(|t| t.state != State::Submitted));

    fault_everywhere(&sim, &Fault::Up);
    wait_for_status(&mut client, "every bind up", all_binds_up).await;
    // A message sent after the operators are back arrives, and the expired OTP never does.
    let later_to = kcell_number(5, 2);
    let later = submit(&mut client, &later_to, "after the outage", "notification").await;
    assert_eq!(wait_final(&mut client, later).await.state, State::Delivered);
    let received = received_by_destination(&sim);
    assert_eq!(received.get(&later_to), Some(&1));
    assert_eq!(received.get(&otp_to), None, "the expired OTP was sent");
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_otp_waiting_behind_a_full_window_past_its_send_by_is_never_sent() {
    let sim = simulator().await;
    sim.apply_fault("kcell", &Fault::ResponseDelay(Duration::from_secs(3)))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tuning = Tuning {
        binds: 1,
        window: 1,
        ..Tuning::default()
    };
    let daemon = Daemon::start(&write_tuned_config(dir.path(), &sim, &tuning)).await;
    let mut client = daemon.client().await;
    wait_for_status(&mut client, "every bind up", all_binds_up).await;
    // A slow answer holds kcell's only place in its window.
    let first_to = kcell_number(6, 1);
    let first = submit(&mut client, &first_to, "slow answer", "notification").await;
    sim.wait_for_messages(1, PATIENCE).await.unwrap();
    let otp_to = kcell_number(6, 2);
    let otp = client
        .submit(json!({
            "to": otp_to, "text": "Your eGov code is 1937", "kind": "otp",
            "send_by": rfc3339_in(Duration::from_secs(1)),
        }))
        .await
        .expect("socket")
        .expect("accepted")
        .message_id;
    assert_eq!(wait_final(&mut client, first).await.state, State::Delivered);
    let view = wait_final(&mut client, otp).await;
    let received = received_by_destination(&sim);
    assert_eq!(
        received.get(&otp_to),
        None,
        "the OTP was sent after its send_by: {view:?}"
    );
    assert_eq!(view.state, State::Expired, "{view:?}");
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_drains_unbinds_and_the_next_start_finishes_everything() {
    let sim = simulator().await;
    fault_everywhere(&sim, &Fault::ResponseDelay(Duration::from_millis(400)));
    let dir = tempfile::tempdir().unwrap();
    let config = write_tuned_config(dir.path(), &sim, &Tuning::default());
    let daemon = Daemon::start(&config).await;
    let mut client = daemon.client().await;
    let sent = submit_many(
        &mut client,
        300,
        "notification",
        |n| spread_number(8, n),
        |n| format!("before the restart {n}"),
    )
    .await;
    wait_for_status(&mut client, "submits in flight", |s| {
        s.operators.iter().any(|o| o.window_in_use > 0)
    })
    .await;
    drop(client);
    daemon.stop().await;
    for op in OPERATORS {
        let stats = sim
            .wait_for_stats(op, PATIENCE, |s| s.binds_current == 0)
            .await
            .unwrap_or_else(|_| panic!("{op} still has binds after the daemon stopped"));
        assert!(stats.binds_total > 0);
    }
    let before_restart = sim.messages().len();
    eprintln!("{before_restart} of {} sent before SIGTERM", sent.len());

    fault_everywhere(&sim, &Fault::Clear);
    let daemon = Daemon::start(&config).await;
    let mut client = daemon.client().await;
    let (_, extra_copies) = delivered_once(&mut client, &sim, &sent).await;
    // Every answer that came during the drain was recorded: nothing is sent twice.
    assert_eq!(
        extra_copies, 0,
        "messages answered before SIGTERM were sent again"
    );
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn submits_are_paced_to_the_operators_tps_cap() {
    let sim = simulator().await;
    let cap = paced_load(&sim).await;
    // If no second held more than `cap` parts, a span of S seconds holds at most
    // cap × (⌊S⌋ + 1). Unpaced, the 400 parts would arrive within about a second.
    let mut arrivals: Vec<_> = sim
        .messages()
        .into_iter()
        .filter(|m| m.operator == "kcell")
        .map(|m| (m.received_at, u64::from(m.parts)))
        .collect();
    arrivals.sort();
    let (first, last) = (arrivals[0].0, arrivals[arrivals.len() - 1].0);
    let span = last.duration_since(first).unwrap().as_secs();
    let parts: u64 = arrivals.iter().map(|(_, parts)| parts).sum();
    let allowed = u64::from(cap) * (span + 1);
    eprintln!("{parts} parts in {span}+ s (at most {allowed} under a cap of {cap}/s)");
    assert!(parts <= allowed, "{parts} parts in {span}+ s: over {cap}/s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_operators_tps_cap_is_never_exceeded_in_any_second() {
    let sim = simulator().await;
    let cap = paced_load(&sim).await;
    let kcell = sim.operator_stats("kcell").unwrap();
    eprintln!(
        "{} parts to kcell, busiest second {} (cap {cap})",
        kcell.submits, kcell.max_parts_per_second
    );
    assert!(
        kcell.max_parts_per_second <= u64::from(cap),
        "{} parts in one second, over the cap of {cap}",
        kcell.max_parts_per_second
    );
}
