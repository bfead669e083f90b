//! Claiming on the cluster engine, against a real PostgreSQL each test starts
//! (test-postgres): nodes claiming at once never get the same message, claims follow the
//! queue's order and leave what is not due, and a message past its `send_by` is expired.
//!
//! These tests need PostgreSQL's server binaries and fail, saying so, without them.

mod store_support;

use khabar::message::{Kind, MessageId, State, now_ms};
use khabar::store::StoreConfig;
use khabar::store::postgres::PgStore;
use std::collections::HashSet;
use store_support::{message, open_cluster};
use test_postgres::TestPostgres;

async fn open(pg: &TestPostgres, node: &str) -> PgStore {
    open_cluster(pg, node, StoreConfig::default()).await
}

#[tokio::test]
async fn nodes_claiming_at_once_never_get_the_same_message() {
    let pg = TestPostgres::start();
    let first = open(&pg, "node-a").await;
    let mut accepted = HashSet::new();
    for _ in 0..3 {
        let batch = (0..1_000).map(|_| message(Kind::Bulk, None)).collect();
        for answer in first.accept_batch(batch).await {
            accepted.insert(answer.unwrap().id);
        }
    }
    let nodes = ["node-a", "node-b", "node-c"];
    let mut claimers = Vec::new();
    for node in nodes {
        let store = open(&pg, node).await;
        claimers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let claimed = store.claim_batch(Kind::Bulk, now_ms(), 50).await.unwrap();
                if claimed.is_empty() {
                    return mine;
                }
                for m in claimed {
                    assert_eq!((m.state, m.attempts), (State::Submitting, 1));
                    mine.push(m.id);
                }
            }
        }));
    }
    let mut claimed_by_any = HashSet::new();
    for (node, claimer) in nodes.iter().zip(claimers) {
        let mine = claimer.await.unwrap();
        for id in &mine {
            assert!(claimed_by_any.insert(*id), "{id} was handed to two nodes");
        }
        let recorded = pg
            .psql(
                "postgres",
                &format!("SELECT count(*) FROM messages WHERE claimed_by = '{node}'"),
            )
            .unwrap();
        assert_eq!(
            recorded,
            mine.len().to_string(),
            "{node}'s claims are recorded"
        );
    }
    assert_eq!(claimed_by_any, accepted, "every message was claimed once");
}

#[tokio::test]
async fn a_claim_takes_its_lane_in_order_leaves_what_is_not_due_and_expires_the_late() {
    let pg = TestPostgres::start();
    let store = open(&pg, "node-a").await;
    let now = now_ms();
    let mut held = message(Kind::Otp, None);
    held.extra.held_until = Some(now + 3_600_000);
    let mut late = message(Kind::Otp, Some("late"));
    late.send_by = Some(now + 60_000);
    let batch = vec![
        message(Kind::Otp, None),
        held,
        late,
        message(Kind::Bulk, None),
        message(Kind::Otp, None),
    ];
    let ids: Vec<MessageId> = store
        .accept_batch(batch)
        .await
        .into_iter()
        .map(|a| a.unwrap().id)
        .collect();
    // claimed after the late one's send_by: it is expired, not handed out
    let later = now_ms() + 60_000;
    let claimed = store.claim_batch(Kind::Otp, later, 10).await.unwrap();
    let claimed: Vec<MessageId> = claimed.iter().map(|m| m.id).collect();
    assert_eq!(claimed, vec![ids[0], ids[4]], "due OTPs, oldest first");
    let late = store.get(ids[2]).await.unwrap().unwrap();
    assert_eq!(late.state, State::Expired);
    assert_eq!(
        late.history.last().and_then(|t| t.reason.as_deref()),
        Some("send_by passed before it could be sent")
    );
    assert_eq!(late.text, None, "a final OTP's code is gone");
    assert_eq!(
        store.get(ids[1]).await.unwrap().unwrap().state,
        State::Queued,
        "held until its place"
    );
    assert_eq!(
        store.get(ids[3]).await.unwrap().unwrap().state,
        State::Queued,
        "another lane"
    );
    assert!(
        store
            .claim_batch(Kind::Otp, later, 10)
            .await
            .unwrap()
            .is_empty(),
        "nothing else is due"
    );
    let held = store
        .claim_batch(Kind::Otp, now + 3_600_000, 10)
        .await
        .unwrap();
    assert_eq!(held.iter().map(|m| m.id).collect::<Vec<_>>(), vec![ids[1]]);
}
