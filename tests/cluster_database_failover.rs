//! The database's machine is lost: a primary with a synchronous standby (streaming
//! replication, two local test-postgres instances), two khabar nodes listing both servers,
//! smpp-sim. The primary is SIGKILLed mid-load and the standby promoted: the nodes reconnect to
//! it by themselves, every message a node acknowledged is there and ends delivered.
//!
//! These tests need PostgreSQL's server binaries and fail, saying so, without them.

mod daemon_support;

use daemon_support::{
    Daemon, PATIENCE, Tuning, cluster_store, otp_key, simulator, write_tuned_config,
};
use khabar::api::client::Client;
use khabar::api::protocol::MessageRef;
use khabar::message::{MessageId, State};
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use test_postgres::TestPostgres;

/// Messages submitted in all, half through each node.
const MESSAGES: usize = 3_000;
const BATCH: usize = 50;

/// A number unique to message `n`, of each of the three operators in turn (never one of
/// smpp-sim's special endings 0000–0004).
fn number(n: usize) -> String {
    let prefix = ["7701", "7705", "7707"][n % 3];
    format!("{prefix}{:07}", n * 10 + 7)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nothing_acknowledged_is_lost_when_the_primary_dies_and_the_standby_is_promoted() {
    let mut primary = TestPostgres::start();
    let standby = primary.start_standby(true).expect("a synchronous standby");
    let sim = simulator().await;
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let keys = tempfile::tempdir().unwrap();
    let key = otp_key(&keys.path().join("otp.key"));
    let mut nodes = Vec::new();
    for (k, dir) in dirs.iter().enumerate() {
        let standby_at = format!(
            "standbys = [\"127.0.0.1:{}\"]\nconnect_timeout = \"1s\"\n",
            standby.port()
        );
        let tuning = Tuning {
            extra: cluster_store(primary.port(), &format!("node-{k}"), &(standby_at + &key)),
            ..Tuning::default()
        };
        let config = write_tuned_config(dir.path(), &sim, &tuning);
        nodes.push(Daemon::start(&config).await);
    }

    // clients: each node half the messages, a batch sent again until it is answered (its
    // references make that safe), every acknowledged id kept
    let acknowledged: Arc<Mutex<HashMap<MessageId, usize>>> = Arc::default();
    let mut clients = Vec::new();
    for (k, node) in nodes.iter().enumerate() {
        let socket = node.socket.clone();
        let acknowledged = acknowledged.clone();
        clients.push(tokio::spawn(async move {
            let mut client = Client::connect(&socket).await.unwrap();
            let share = MESSAGES / 2;
            let mut n = k * share;
            let deadline = Instant::now() + PATIENCE * 2;
            while n < (k + 1) * share {
                assert!(Instant::now() < deadline, "node-{k} never took message {n}");
                let batch: Vec<_> = (n..n + BATCH)
                    .map(|i| json!({"to": number(i), "text": format!("notice {i}"), "reference": format!("r{i}")}))
                    .collect();
                let reply = client.submit_batch(batch).await.expect("the node's socket");
                let Ok(reply) = reply else {
                    continue; // refused while the database is away: sent again
                };
                let mut acked = acknowledged.lock().unwrap();
                let mut all = true;
                for (i, item) in (n..).zip(reply.results) {
                    match item.message_id {
                        Some(id) => {
                            acked.insert(id, i);
                        }
                        None => all = false,
                    }
                }
                if all {
                    n += BATCH;
                }
            }
        }));
    }

    // mid-load: the primary's machine is lost, the standby promoted
    wait_until("a third of the messages acknowledged", || {
        (acknowledged.lock().unwrap().len() >= MESSAGES / 3).then_some(())
    })
    .await;
    primary.kill();
    let at_kill = acknowledged.lock().unwrap().len();
    standby.promote().expect("the standby is promoted");
    eprintln!("primary killed after {at_kill} acknowledged; standby promoted");

    for client in clients {
        client.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert_eq!(
        acknowledged.len(),
        MESSAGES,
        "every message acknowledged once"
    );

    // every acknowledged message is on the promoted server, and ends delivered
    let mut client = nodes[0].client().await;
    for (id, i) in &acknowledged {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let view = client
                .get(&MessageRef::Id(*id))
                .await
                .expect("socket")
                .unwrap_or_else(|e| panic!("acknowledged message {i} ({id}) is lost: {e:?}"));
            if view.state.is_final() {
                assert_eq!(view.state, State::Delivered, "message {i}: {view:?}");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "message {i} is still {:?}",
                view.state
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let stored = standby
        .psql("postgres", "SELECT count(*) FROM messages")
        .unwrap();
    assert_eq!(stored, MESSAGES.to_string(), "one row per message");
    for node in nodes {
        node.stop().await;
    }
}

/// Polls `check` (every 20 ms) until it gives a value; fails after `PATIENCE`.
async fn wait_until<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(done) = check() {
            return done;
        }
        assert!(Instant::now() < deadline, "{what}: never happened");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
