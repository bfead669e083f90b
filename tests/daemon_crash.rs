//! Durability of the whole daemon: the real `khabar` binary is SIGKILLed at random moments
//! while a client keeps submitting, then restarted; at the end every message it accepted has
//! exactly one final state and reached the simulator, and resubmissions (duplicates at the
//! SMSC) are bounded by what can be in flight at a kill.
//!
//! `KHABAR_DAEMON_KILLS=20 cargo test --release --test daemon_crash -- --nocapture` is the
//! long run (the default is 3 kills).

mod daemon_support;

use daemon_support::{PATIENCE, simulator, start_binary, wait_for_socket, write_config};
use khabar::api::client::Client;
use khabar::api::protocol::MessageRef;
use khabar::message::{MessageId, State};
use rand::Rng;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Messages per batch the client submits.
const BATCH: usize = 100;
/// The client stops by itself after this many batches per round even if nobody kills.
const MAX_BATCHES_PER_ROUND: usize = 50;

/// A number unique to message `n` (never one of smpp-sim's special endings 0000–0004).
fn number(n: usize) -> String {
    format!("7701{:07}", n * 10 + 7)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nothing_accepted_is_lost_across_sigkills() {
    survives_sigkills("").await;
}

/// Finished messages move to the history tier at once, so kills land while they move.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nothing_is_lost_or_sent_twice_when_killed_while_messages_move_to_history() {
    survives_sigkills("[store]\nmove_to_history_after = \"0s\"\n").await;
}

/// Kills the daemon (SIGKILL) at random moments under load, `extra` in its config; then every
/// accepted message must be delivered, found by id and by reference, and sent within the
/// in-flight bound of duplicates.
async fn survives_sigkills(extra: &str) {
    let kills: usize = std::env::var("KHABAR_DAEMON_KILLS")
        .ok()
        .and_then(|k| k.parse().ok())
        .unwrap_or(3);
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim, extra);
    let socket = dir.path().join("khabar.sock");
    let accepted: Arc<Mutex<HashMap<MessageId, String>>> = Arc::default();
    let mut next = 0usize;
    for round in 0..kills {
        let mut daemon = start_binary(&config);
        wait_for_socket(&socket).await;
        let client_accepted = accepted.clone();
        let client_socket = socket.clone();
        let first = next;
        let client = tokio::spawn(async move {
            let Ok(mut client) = Client::connect(&client_socket).await else {
                return first;
            };
            let mut n = first;
            for _ in 0..MAX_BATCHES_PER_ROUND {
                let messages: Vec<_> = (n..n + BATCH)
                    .map(|i| json!({"to": number(i), "text": format!("message {i}"), "reference": format!("m{i}")}))
                    .collect();
                let Ok(Ok(reply)) = client.submit_batch(messages).await else {
                    break;
                };
                let mut acc = client_accepted.lock().unwrap();
                for (i, item) in (n..).zip(reply.results) {
                    if let Some(id) = item.message_id {
                        acc.insert(id, number(i));
                    }
                }
                n += BATCH;
            }
            n
        });
        let pause = rand::rng().random_range(300..2_000);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        daemon.kill().expect("SIGKILL");
        daemon.wait().unwrap();
        next = client.await.unwrap();
        eprintln!(
            "round {round}: killed after {pause} ms; {} messages accepted so far",
            accepted.lock().unwrap().len()
        );
    }

    // A last, undisturbed run finishes everything.
    let mut daemon = start_binary(&config);
    wait_for_socket(&socket).await;
    let mut client = Client::connect(&socket).await.unwrap();
    let accepted = accepted.lock().unwrap().clone();
    assert!(!accepted.is_empty(), "the client got messages accepted");
    let deadline = tokio::time::Instant::now() + PATIENCE * 4;
    let mut pending: HashSet<MessageId> = accepted.keys().copied().collect();
    while !pending.is_empty() {
        let mut still = HashSet::new();
        for id in pending {
            let view = client.get(&MessageRef::Id(id)).await.unwrap();
            let view = view.unwrap_or_else(|e| panic!("accepted message {id} is lost: {e:?}"));
            if !view.state.is_final() {
                still.insert(id);
            } else {
                assert_eq!(view.state, State::Delivered, "{view:?}");
            }
        }
        pending = still;
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} messages never became final",
            pending.len()
        );
        if !pending.is_empty() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    // every reference still names its message, live or moved to the history
    let references: Vec<serde_json::Value> = (0..next.min(500))
        .map(|i| json!({"to": number(i), "text": format!("message {i}"), "reference": format!("m{i}")}))
        .collect();
    let again = client.submit_batch(references).await.unwrap().unwrap();
    for item in &again.results {
        if let Some(id) = item.message_id
            && accepted.contains_key(&id)
        {
            assert_eq!(
                item.duplicate,
                Some(true),
                "{id}: its reference was accepted anew"
            );
        }
    }
    let mut received: HashMap<String, usize> = HashMap::new();
    for m in sim.messages() {
        *received.entry(m.destination).or_default() += 1;
    }
    for (id, to) in &accepted {
        assert!(
            received.contains_key(to),
            "message {id} never reached the simulator"
        );
    }
    let duplicates: usize = received.values().map(|n| n - 1).sum();
    // Resent after a kill: only messages sent whose outcome was not yet recorded, which the
    // sending stage bounds by the operators' windows (binds × window of every operator).
    let tuning = daemon_support::Tuning::default();
    let slots = sim.operators().len() * (tuning.binds * tuning.window) as usize;
    let claim_batch = khabar::config::SendingConfig::default().claim_batch;
    let bound = kills * khabar::sending::in_flight_bound(slots, claim_batch);
    eprintln!(
        "{} accepted, {} kills, {duplicates} resubmitted after a kill (bound {bound})",
        accepted.len(),
        kills
    );
    assert!(duplicates <= bound, "{duplicates} duplicates > {bound}");
    daemon.kill().unwrap();
    daemon.wait().unwrap();
}
