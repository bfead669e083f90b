//! The cluster engine after its database went away and came back (a restart, or a failover to
//! the standby on the same address), against a real PostgreSQL (test-postgres): a node that
//! stays up accepts, reads, claims and hears other nodes' events again without being started
//! again, and what it accepted before is all there.
//!
//! These tests need PostgreSQL's server binaries and fail, saying so, without them.

mod store_support;

use khabar::message::{Kind, MessageId, State, now_ms};
use khabar::store::StoreConfig;
use khabar::store::StoreError;
use khabar::store::postgres::PgStore;
use khabar::store::rules::Change;
use std::collections::HashSet;
use store_support::{message, open_cluster};
use test_postgres::TestPostgres;

/// Calls `call` until it succeeds: the first call after the server died may still go to the
/// connection it killed (the client learns of the loss only when it uses it); bounded, so a
/// store that never reconnects fails the test instead of hanging it.
async fn once_reconnected<T, F, Fut>(what: &str, mut call: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let mut last = None;
    for _ in 0..100 {
        match call().await {
            Ok(done) => return done,
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{what} never worked again after the database restarted: {last:?}");
}

async fn accept_ids(store: &PgStore, from: usize, n: usize) -> Vec<MessageId> {
    let batch = (from..from + n)
        .map(|i| message(Kind::Bulk, Some(&format!("doc-{i}"))))
        .collect();
    store
        .accept_batch(batch)
        .await
        .into_iter()
        .map(|a| a.expect("accepted").id)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_works_on_after_its_database_was_killed_and_restarted() {
    let mut pg = TestPostgres::start();
    let node_a = open_cluster(&pg, "node-a", StoreConfig::default()).await;
    let node_b = open_cluster(&pg, "node-b", StoreConfig::default()).await;
    let before = accept_ids(&node_a, 0, 20).await;
    let claimed = node_a.claim_batch(Kind::Bulk, now_ms(), 5).await.unwrap();
    assert_eq!(claimed.len(), 5);

    pg.kill();
    pg.restart().unwrap();

    // writes: accepted again, and the references of before are known (no second copy)
    let again = once_reconnected("accepting", || async {
        node_a.accept(message(Kind::Bulk, Some("doc-after"))).await
    })
    .await;
    assert_eq!(again.state, State::Queued);
    let repeated = node_a
        .accept(message(Kind::Bulk, Some("doc-3")))
        .await
        .unwrap();
    assert!(repeated.duplicate);
    assert_eq!(repeated.id, before[3]);

    // reads: every message accepted before the crash is there, as it was
    for id in &before {
        let stored = once_reconnected("reading", || node_a.get(*id)).await;
        assert!(stored.is_some(), "{id} was accepted before the crash");
    }
    let submitting = node_a.get(claimed[0].id).await.unwrap().unwrap();
    assert_eq!(submitting.state, State::Submitting);

    // claims: the rest of the queue, each message once
    let mut seen: HashSet<MessageId> = claimed.iter().map(|m| m.id).collect();
    loop {
        let batch =
            once_reconnected("claiming", || node_a.claim_batch(Kind::Bulk, now_ms(), 7)).await;
        if batch.is_empty() {
            break;
        }
        for m in batch {
            assert!(seen.insert(m.id), "{} claimed twice", m.id);
        }
    }
    assert_eq!(seen.len(), before.len() + 1, "every message claimed once");

    // events: node-a's subscriber wakes for an event node-b writes after the restart
    let mut heard = node_a.subscribe();
    heard.borrow_and_update();
    let cancelled = once_reconnected("accepting on node-b", || async {
        node_b.accept(message(Kind::Bulk, Some("doc-b"))).await
    })
    .await;
    let seq_before = *heard.borrow();
    once_reconnected("cancelling on node-b", || {
        let withdrawn = Change::Cancel {
            reason: "withdrawn".into(),
        };
        node_b.change(cancelled.id, withdrawn, now_ms())
    })
    .await;
    loop {
        heard.changed().await.expect("node-a's store is open");
        if *heard.borrow() > seq_before {
            break;
        }
    }
    let events = node_a.read_events(seq_before, 10).await.unwrap();
    assert!(
        !events.is_empty(),
        "node-a reads the events node-b wrote after the restart"
    );
}
