//! A message's life after its claim on the cluster engine, against a real PostgreSQL each
//! test starts (test-postgres): the operator's ids recorded for its receipts, the receipts
//! that make it final, a retry another node sends, and changes from two nodes at once.
//!
//! These tests need PostgreSQL's server binaries and fail, saying so, without them.

mod store_support;

use khabar::message::{Kind, State, now_ms};
use khabar::store::StoreConfig;
use khabar::store::StoreError;
use khabar::store::postgres::PgStore;
use khabar::store::rules::Change;
use store_support::{message, open_cluster};
use test_postgres::TestPostgres;

async fn open(pg: &TestPostgres, node: &str) -> PgStore {
    open_cluster(pg, node, StoreConfig::default()).await
}

fn acked(parts: u32, ids: &[&str]) -> Change {
    Change::Accepted {
        operator: "kcell".into(),
        parts,
        accepted: ids
            .iter()
            .enumerate()
            .map(|(i, id)| (i as u32, (*id).to_owned()))
            .collect(),
        concat_ref: None,
        give_up_at: Some(now_ms() + 3_600_000),
    }
}

fn receipt(part: u32, stat: &str) -> Change {
    Change::Receipt {
        part,
        stat: stat.into(),
        error: None,
        at: now_ms(),
    }
}

#[tokio::test]
async fn a_message_is_submitted_part_by_part_and_delivered_by_its_receipts() {
    let pg = TestPostgres::start();
    let store = open(&pg, "node-a").await;
    let id = store
        .accept(message(Kind::Notification, Some("n-1")))
        .await
        .unwrap()
        .id;
    let claimed = store
        .claim_batch(Kind::Notification, now_ms(), 1)
        .await
        .unwrap();
    assert_eq!(claimed[0].id, id);

    let m = store.change(id, acked(2, &["A1"]), now_ms()).await.unwrap();
    assert_eq!(m.state, State::Submitting, "one part of two acknowledged");
    let accepted = Change::Accepted {
        operator: "kcell".into(),
        parts: 2,
        accepted: vec![(1, "A2".into())],
        concat_ref: None,
        give_up_at: Some(now_ms() + 3_600_000),
    };
    let m = store.change(id, accepted, now_ms()).await.unwrap();
    assert_eq!(m.state, State::Submitted);
    assert_eq!(
        pg.psql(
            "postgres",
            "SELECT string_agg(operator_id || ':' || part, ',' ORDER BY part) FROM operator_ids"
        )
        .unwrap(),
        "a1:0,a2:1",
        "each part's operator id is recorded, in its canonical form, for its receipt"
    );
    assert_eq!(
        pg.psql("postgres", "SELECT claimed_by IS NULL FROM messages")
            .unwrap(),
        "t",
        "no longer in flight"
    );

    let m = store
        .change(id, receipt(0, "DELIVRD"), now_ms())
        .await
        .unwrap();
    assert_eq!(m.state, State::Submitted, "one receipt of two");
    let m = store
        .change(id, receipt(1, "DELIVRD"), now_ms())
        .await
        .unwrap();
    assert_eq!(m.state, State::Delivered);
    let stored = store.get(id).await.unwrap().unwrap();
    assert_eq!(stored.state, State::Delivered);
    assert_eq!(
        stored.history.iter().map(|t| t.state).collect::<Vec<_>>(),
        [
            State::Queued,
            State::Submitting,
            State::Submitted,
            State::Delivered
        ]
    );
    assert_eq!(
        pg.psql(
            "postgres",
            "SELECT state, finished_at IS NOT NULL, deadline IS NULL FROM messages"
        )
        .unwrap(),
        "delivered|t|t"
    );
    assert_eq!(
        pg.psql("postgres", "SELECT count(*) FROM events").unwrap(),
        "4",
        "submitted, two receipts and delivered are in the log"
    );
}

#[tokio::test]
async fn a_retry_goes_back_to_the_queue_where_another_node_claims_it() {
    let pg = TestPostgres::start();
    let (node_a, node_b) = (open(&pg, "node-a").await, open(&pg, "node-b").await);
    let id = node_a.accept(message(Kind::Bulk, None)).await.unwrap().id;
    node_a.claim_batch(Kind::Bulk, now_ms(), 1).await.unwrap();
    let retry = Change::Requeue {
        due: now_ms(),
        reason: "throttled".into(),
        refund: false,
    };
    let m = node_a.change(id, retry, now_ms()).await.unwrap();
    assert_eq!((m.state, m.attempts), (State::Queued, 1));
    let again = node_b.claim_batch(Kind::Bulk, now_ms(), 10).await.unwrap();
    assert_eq!(
        again.iter().map(|m| (m.id, m.attempts)).collect::<Vec<_>>(),
        [(id, 2)]
    );
    assert_eq!(
        pg.psql("postgres", "SELECT claimed_by FROM messages")
            .unwrap(),
        "node-b"
    );

    // a deferred claim is undone: the attempt does not count
    let m = node_b
        .change(id, Change::Defer { until: now_ms() }, now_ms())
        .await
        .unwrap();
    assert_eq!((m.state, m.attempts), (State::Queued, 1));
}

#[tokio::test]
async fn a_change_that_does_not_apply_is_refused_and_changes_nothing() {
    let pg = TestPostgres::start();
    let store = open(&pg, "node-a").await;
    let id = store.accept(message(Kind::Bulk, None)).await.unwrap().id;
    store.claim_batch(Kind::Bulk, now_ms(), 1).await.unwrap();
    let cancel = Change::Cancel {
        reason: "upstream".into(),
    };
    let refused = store.change(id, cancel, now_ms()).await.unwrap_err();
    assert!(
        matches!(
            refused,
            StoreError::WrongState {
                state: State::Submitting,
                ..
            }
        ),
        "{refused}"
    );
    assert_eq!(
        store.get(id).await.unwrap().unwrap().state,
        State::Submitting
    );
    let missing = khabar::message::MessageId(id.0 + 1_000_000);
    assert!(matches!(
        store.change(missing, receipt(0, "DELIVRD"), now_ms()).await,
        Err(StoreError::NotFound(_))
    ));
}

#[tokio::test]
async fn a_cancel_and_a_claim_from_two_nodes_at_once_do_not_both_win() {
    let pg = TestPostgres::start();
    let (node_a, node_b) = (open(&pg, "node-a").await, open(&pg, "node-b").await);
    let ids: Vec<_> = node_a
        .accept_batch((0..200).map(|_| message(Kind::Bulk, None)).collect())
        .await
        .into_iter()
        .map(|a| a.unwrap().id)
        .collect();
    let cancels = async {
        let mut cancelled = Vec::new();
        for &id in &ids {
            let cancel = Change::Cancel {
                reason: "upstream".into(),
            };
            if node_a.change(id, cancel, now_ms()).await.is_ok() {
                cancelled.push(id);
            }
        }
        cancelled
    };
    let claims = async {
        let mut claimed = Vec::new();
        loop {
            let batch = node_b.claim_batch(Kind::Bulk, now_ms(), 7).await.unwrap();
            if batch.is_empty() {
                return claimed;
            }
            claimed.extend(batch.into_iter().map(|m| m.id));
        }
    };
    let (cancelled, claimed) = tokio::join!(cancels, claims);
    for id in &ids {
        let won = [cancelled.contains(id), claimed.contains(id)];
        assert_eq!(won.iter().filter(|w| **w).count(), 1, "{id}: {won:?}");
    }
}
