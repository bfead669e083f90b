//! Load and checks shared by the fault tests: numbers, bulk submits, waiting for many
//! messages, what the simulator received.
#![allow(dead_code)] // each test file uses a different subset

use super::daemon_support::{Daemon, PATIENCE, Tuning, write_tuned_config};
use khabar::api::client::Client;
use khabar::api::protocol::MessageRef;
use khabar::api::views::{BindState, MessageView, StatusReport};
use khabar::message::{MessageId, State};
use serde_json::{Value, json};
use smpp_sim::{Fault, SimHandle};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// The simulator's operators (smpp-sim's defaults, matching khabar's default routes).
pub const OPERATORS: [&str; 3] = ["kcell", "beeline", "tele2"];

/// Retries come quickly, so that a few rounds of them fit in a short test.
pub const FAST_RETRY: &str = "[scheduler.retry]\nbase = \"100ms\"\nmax_delay = \"1s\"\n";

/// A Kcell number unique to `n` within `series` (never one of smpp-sim's test endings
/// 0000–0004: the last digit is 7).
pub fn kcell_number(series: u32, n: usize) -> String {
    format!("7701{series}{:06}", n * 10 + 7)
}

/// A number unique to `n` within `series`, spread over the three operators by prefix.
pub fn spread_number(series: u32, n: usize) -> String {
    let prefix = ["7701", "7705", "7707"][n % 3];
    format!("{prefix}{series}{:06}", n * 10 + 7)
}

/// Applies `fault` to every operator.
pub fn fault_everywhere(sim: &SimHandle, fault: &Fault) {
    for op in OPERATORS {
        sim.apply_fault(op, fault).unwrap();
    }
}

/// Submits `count` messages of `kind`, to `number(n)` with text `text(n)`, in batches;
/// returns (id, recipient) in order.
pub async fn submit_many(
    client: &mut Client,
    count: usize,
    kind: &str,
    number: impl Fn(usize) -> String,
    text: impl Fn(usize) -> String,
) -> Vec<(MessageId, String)> {
    let mut accepted = Vec::with_capacity(count);
    for start in (0..count).step_by(250) {
        let batch: Vec<Value> = (start..count.min(start + 250))
            .map(|n| json!({"to": number(n), "text": text(n), "kind": kind}))
            .collect();
        let reply = client
            .submit_batch(batch)
            .await
            .expect("socket")
            .expect("batch accepted");
        for (n, item) in (start..).zip(reply.results) {
            let id = item.message_id.expect("every message accepted");
            accepted.push((id, number(n)));
        }
    }
    accepted
}

/// Waits until every message in `ids` is final; returns their views.
pub async fn wait_all_final(
    client: &mut Client,
    ids: impl IntoIterator<Item = MessageId>,
) -> HashMap<MessageId, MessageView> {
    let mut pending: HashSet<MessageId> = ids.into_iter().collect();
    let mut done = HashMap::new();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let mut still = HashSet::new();
        for id in pending {
            let view = get(client, id).await;
            if view.state.is_final() {
                done.insert(id, view);
            } else {
                still.insert(id);
            }
        }
        pending = still;
        if pending.is_empty() {
            return done;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} messages never became final",
            pending.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The stored view of a message the daemon accepted (it must still know it).
pub async fn get(client: &mut Client, id: MessageId) -> MessageView {
    client
        .get(&MessageRef::Id(id))
        .await
        .expect("socket")
        .unwrap_or_else(|e| panic!("accepted message {id} is lost: {e:?}"))
}

/// How often each destination reached the simulator (complete messages, any operator).
pub fn received_by_destination(sim: &SimHandle) -> HashMap<String, usize> {
    let mut received = HashMap::new();
    for m in sim.messages() {
        *received.entry(m.destination).or_default() += 1;
    }
    received
}

/// How many times a message's history entered `submitted` (acknowledged by an operator).
pub fn times_submitted(view: &MessageView) -> usize {
    view.history
        .iter()
        .filter(|t| t.state == State::Submitted)
        .count()
}

/// Waits until every message of `sent` is final, then checks each was delivered and reached
/// the simulator (see [`check_delivered_once`]); returns the views and the extra copies.
pub async fn delivered_once(
    client: &mut Client,
    sim: &SimHandle,
    sent: &[(MessageId, String)],
) -> (HashMap<MessageId, MessageView>, usize) {
    let views = wait_all_final(client, sent.iter().map(|(id, _)| *id)).await;
    let extra_copies = check_delivered_once(sim, sent, &views);
    (views, extra_copies)
}

/// Asserts every message was delivered, acknowledged once, and reached the simulator;
/// returns how many resubmissions (extra copies) the simulator received.
pub fn check_delivered_once(
    sim: &SimHandle,
    sent: &[(MessageId, String)],
    views: &HashMap<MessageId, MessageView>,
) -> usize {
    let received = received_by_destination(sim);
    for (id, to) in sent {
        let view = &views[id];
        assert_eq!(view.state, State::Delivered, "{view:?}");
        assert_eq!(
            times_submitted(view),
            1,
            "message {id} was acknowledged more than once: {:?}",
            view.history
        );
        assert!(
            received.get(to).is_some_and(|n| *n >= 1),
            "message {id} never reached the simulator"
        );
    }
    sent.iter().map(|(_, to)| received[to] - 1).sum()
}

/// True when some message's history shows it went back to the queue for `reason`.
pub fn some_retry_mentions(views: &HashMap<MessageId, MessageView>, reason: &str) -> bool {
    views.values().any(|v| {
        v.history.iter().any(|t| {
            t.state == State::Queued && t.reason.as_deref().is_some_and(|r| r.contains(reason))
        })
    })
}

/// Waits until `condition` holds for the daemon's status report.
pub async fn wait_for_status(
    client: &mut Client,
    what: &str,
    condition: impl Fn(&StatusReport) -> bool,
) -> StatusReport {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let status = client.status().await.expect("socket").expect("status");
        if condition(&status) {
            return status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "status never showed {what}: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// RFC 3339 time `ahead` from now, as `send_by` takes it.
pub fn rfc3339_in(ahead: Duration) -> String {
    let at = khabar::message::now_ms() + ahead.as_millis() as i64;
    khabar::api::serde_fmt::format_time(at)
}

/// Sends 300 messages to kcell under a cap of 50 parts per second (every third message in
/// two parts: the cap counts parts, as operators do) and waits until all are delivered.
/// Returns the cap.
pub async fn paced_load(sim: &SimHandle) -> u32 {
    let dir = tempfile::tempdir().unwrap();
    let tuning = Tuning {
        tps: 50,
        ..Tuning::default()
    };
    let daemon = Daemon::start(&write_tuned_config(dir.path(), sim, &tuning)).await;
    let mut client = daemon.client().await;
    wait_for_status(&mut client, "every bind up", all_binds_up).await;
    let long = "Your application for a one-time payment has been reviewed and approved. \
        The payment will reach your account within ten working days. Questions: call 1414 \
        or visit the nearest public service centre.";
    let sent = submit_many(
        &mut client,
        300,
        "notification",
        |n| kcell_number(9, n),
        |n| {
            if n % 3 == 0 {
                format!("{long} ({n})")
            } else {
                format!("short {n}")
            }
        },
    )
    .await;
    let views = wait_all_final(&mut client, sent.iter().map(|(id, _)| *id)).await;
    check_delivered_once(sim, &sent, &views);
    assert!(
        sim.messages().iter().any(|m| m.parts == 2),
        "long texts go in two parts"
    );
    daemon.stop().await;
    tuning.tps
}

/// Every bind of every operator is up.
pub fn all_binds_up(status: &StatusReport) -> bool {
    status
        .operators
        .iter()
        .all(|o| !o.binds.is_empty() && o.binds.iter().all(|b| b.state == BindState::Up))
}
