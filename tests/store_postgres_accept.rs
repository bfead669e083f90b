//! Accepting on the cluster engine, against a real PostgreSQL each test starts
//! (test-postgres): a message accepted is committed and whole after the database is killed
//! and restarted, a reference is stored once whichever node receives it, a message already
//! late is expired at once.
//!
//! These tests need PostgreSQL's server binaries and fail, saying so, without them.

mod store_support;

use khabar::message::{Kind, State, now_ms};
use khabar::store::StoreConfig;
use khabar::store::postgres::PgStore;
use std::collections::HashSet;
use store_support::{message, open_cluster};
use test_postgres::TestPostgres;

async fn open(pg: &TestPostgres) -> PgStore {
    open_cluster(pg, "node-a", StoreConfig::default()).await
}

#[tokio::test]
async fn an_accepted_message_is_whole_after_the_database_is_killed_and_restarted() {
    let mut pg = TestPostgres::start();
    let mut sent = message(Kind::Notification, Some("doc-1"));
    sent.send_by = Some(now_ms() + 3_600_000);
    sent.receipt_by = Some(now_ms() + 7_200_000);
    sent.extra.template = Some("housing_queue".into());
    let accepted = open(&pg).await.accept(sent.clone()).await.unwrap();
    assert_eq!(accepted.state, State::Queued);
    assert!(!accepted.duplicate);

    pg.kill();
    pg.restart().unwrap();
    let store = open(&pg).await;
    let stored = store
        .get(accepted.id)
        .await
        .unwrap()
        .expect("an accepted message survives the database's crash");
    assert_eq!(stored.reference, sent.reference);
    assert_eq!(stored.kind, sent.kind);
    assert_eq!(stored.recipient, sent.recipient);
    assert_eq!(stored.text.as_deref(), Some(sent.text.as_str()));
    assert_eq!(
        (stored.send_by, stored.receipt_by),
        (sent.send_by, sent.receipt_by)
    );
    assert_eq!(stored.extra, sent.extra);
    assert_eq!((stored.state, stored.history.len()), (State::Queued, 1));
    assert_eq!(
        store.get_by_reference("doc-1").await.unwrap().map(|m| m.id),
        Some(accepted.id)
    );
}

#[tokio::test]
async fn a_reference_is_stored_once_within_a_batch_across_batches_and_across_nodes() {
    let pg = TestPostgres::start();
    let (node_a, node_b) = (open(&pg).await, open(&pg).await);
    let batch = vec![
        message(Kind::Otp, Some("otp-7")),
        message(Kind::Bulk, None),
        message(Kind::Otp, Some("otp-7")),
    ];
    let answers: Vec<_> = node_a
        .accept_batch(batch)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert!(!answers[0].duplicate && answers[2].duplicate);
    assert_eq!(answers[0].id, answers[2].id);

    let mut changed = message(Kind::Otp, Some("otp-7"));
    changed.text = "a different text".into();
    let again = node_b.accept(changed).await.unwrap();
    assert!(again.duplicate);
    assert_eq!(again.id, answers[0].id);
    let kept = node_b.get(again.id).await.unwrap().unwrap();
    assert_eq!(
        kept.text.as_deref(),
        Some(message(Kind::Otp, None).text.as_str())
    );

    // the same new reference at two nodes at once: one message, both told its id
    let (a, b) = tokio::join!(
        node_a.accept(message(Kind::Notification, Some("both"))),
        node_b.accept(message(Kind::Notification, Some("both"))),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.id, b.id);
    assert_eq!(
        [a.duplicate, b.duplicate].iter().filter(|d| **d).count(),
        1,
        "exactly one of the two stored it"
    );
    assert_eq!(
        pg.psql(
            "postgres",
            "SELECT count(*) FROM messages WHERE reference = 'both'"
        )
        .unwrap(),
        "1"
    );
}

#[tokio::test]
async fn ids_are_unique_and_rise_across_nodes() {
    let pg = TestPostgres::start();
    let nodes = [open(&pg).await, open(&pg).await, open(&pg).await];
    let batches = nodes
        .iter()
        .map(|node| node.accept_batch((0..500).map(|_| message(Kind::Bulk, None)).collect()));
    let mut ids = Vec::new();
    for answers in futures::future::join_all(batches).await {
        let batch: Vec<u64> = answers.into_iter().map(|a| a.unwrap().id.0).collect();
        assert!(
            batch.windows(2).all(|w| w[0] < w[1]),
            "ids rise within a batch"
        );
        ids.extend(batch);
    }
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 1_500);
    assert_eq!(
        pg.psql("postgres", "SELECT count(*) FROM messages")
            .unwrap(),
        "1500"
    );
}

#[tokio::test]
async fn a_message_already_past_its_send_by_is_expired_at_once_and_said_so() {
    let pg = TestPostgres::start();
    let store = open(&pg).await;
    let mut late = message(Kind::Notification, Some("late-1"));
    late.send_by = Some(now_ms() - 1_000);
    let accepted = store.accept(late).await.unwrap();
    assert_eq!(accepted.state, State::Expired);
    let stored = store.get(accepted.id).await.unwrap().unwrap();
    assert_eq!(stored.state, State::Expired);
    assert_eq!(
        stored.history.last().and_then(|t| t.reason.as_deref()),
        Some("send_by had already passed when it was accepted")
    );
    assert_eq!(
        pg.psql(
            "postgres",
            "SELECT count(*) FROM messages WHERE finished_at IS NOT NULL AND deadline IS NULL"
        )
        .unwrap(),
        "1",
        "finished: no deadline left to fire"
    );
    assert_eq!(
        pg.psql("postgres", "SELECT count(*) FROM events").unwrap(),
        "1",
        "its expiry is in the event log"
    );
}
