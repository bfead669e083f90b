//! Receipts, events and recovery across the nodes of a cluster, against a real PostgreSQL
//! each test starts (test-postgres): a receipt matched whichever node receives it (parked when
//! it overtakes its submit result), a subscriber on one node woken by another node's events,
//! and a node's messages in flight put back in the queue when it starts again.
//!
//! These tests need PostgreSQL's server binaries and fail, saying so, without them.

mod store_support;

use khabar::message::{Kind, State, now_ms};
use khabar::operator_id::id_candidates;
use khabar::store::StoreConfig;
use khabar::store::postgres::PgStore;
use khabar::store::rules::Change;
use khabar::store::{Event, ReceiptLanding, StoreError};
use store_support::{message, open_cluster};
use test_postgres::TestPostgres;

async fn open(pg: &TestPostgres, node: &str) -> PgStore {
    open_cluster(pg, node, StoreConfig::default()).await
}

fn acked(operator_id: &str) -> Change {
    Change::Accepted {
        operator: "kcell".into(),
        parts: 1,
        accepted: vec![(0, operator_id.to_owned())],
        concat_ref: None,
        give_up_at: None,
    }
}

#[tokio::test]
async fn a_receipt_is_matched_whichever_node_receives_it_even_before_its_submit_result() {
    let pg = TestPostgres::start();
    let (node_a, node_b) = (open(&pg, "node-a").await, open(&pg, "node-b").await);
    let ids: Vec<_> = node_a
        .accept_batch(vec![message(Kind::Bulk, None), message(Kind::Bulk, None)])
        .await
        .into_iter()
        .map(|a| a.unwrap().id)
        .collect();
    node_a.claim_batch(Kind::Bulk, now_ms(), 2).await.unwrap();

    // recorded by node a, its receipt received by node b
    node_a.change(ids[0], acked("X1"), now_ms()).await.unwrap();
    let landing = node_b
        .record_or_park_receipt("kcell", id_candidates("X1"), "DELIVRD", None, now_ms())
        .await
        .unwrap();
    assert!(
        matches!(&landing, ReceiptLanding::Recorded { message, part: 0 }
            if message.id == ids[0] && message.state == State::Delivered),
        "{landing:?}"
    );

    // the receipt overtakes the submit result: parked by node b, applied when a records the id
    // (the receipts stage asks with every form of the id, as here)
    let landing = node_b
        .record_or_park_receipt(
            "kcell",
            id_candidates("X2"),
            "UNDELIV",
            Some("001"),
            now_ms(),
        )
        .await
        .unwrap();
    assert!(matches!(landing, ReceiptLanding::Parked));
    let m = node_a.change(ids[1], acked("X2"), now_ms()).await.unwrap();
    assert_eq!(m.state, State::Undeliverable);
    assert_eq!(m.parts[0].error.as_deref(), Some("001"));
    assert_eq!(
        pg.psql("postgres", "SELECT count(*) FROM parked_receipts")
            .unwrap(),
        "0",
        "applied, so no longer parked"
    );
    assert_eq!(
        node_b.find_by_operator_id("kcell", "X2").await.unwrap(),
        Some((ids[1], 0))
    );
}

#[tokio::test]
async fn a_subscriber_on_one_node_hears_another_nodes_events_and_resumes_from_its_cursor() {
    let pg = TestPostgres::start();
    let (node_a, node_b) = (open(&pg, "node-a").await, open(&pg, "node-b").await);
    let mut heard = node_b.subscribe();
    let before = *heard.borrow_and_update();
    let mut late = message(Kind::Notification, Some("late"));
    late.send_by = Some(now_ms() - 1);
    node_a.accept(late).await.unwrap();
    heard.changed().await.expect("node b hears node a's event");
    let last = *heard.borrow();
    assert!(last > before);
    let events = node_b.read_events(before, 10).await.unwrap();
    assert_eq!(events.last().map(|e| e.seq), Some(last));
    assert!(matches!(
        &events[0].event,
        Event::StateChanged { state: State::Expired, reference: Some(r), .. } if r == "late"
    ));

    node_b.ack_cursor("crm", last).await.unwrap();
    node_a.ack_cursor("crm", last - 1).await.unwrap();
    assert_eq!(
        node_a.cursor("crm").await.unwrap(),
        last,
        "a cursor never goes back"
    );
    assert!(matches!(
        node_a.ack_cursor("crm", last + 1).await,
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(node_a.cursor("never-acked").await.unwrap(), 0);
}

#[tokio::test]
async fn a_node_that_starts_again_requeues_its_own_messages_in_flight_only() {
    let pg = TestPostgres::start();
    let (node_a, node_b) = (open(&pg, "node-a").await, open(&pg, "node-b").await);
    node_a
        .accept_batch((0..10).map(|_| message(Kind::Bulk, None)).collect())
        .await;
    let mine = node_a.claim_batch(Kind::Bulk, now_ms(), 6).await.unwrap();
    let theirs = node_b.claim_batch(Kind::Bulk, now_ms(), 4).await.unwrap();
    // one of node a's was acknowledged before it stopped: it is not sent again
    node_a
        .change(mine[0].id, acked("A-0"), now_ms())
        .await
        .unwrap();
    drop(node_a);

    let node_a = open(&pg, "node-a").await;
    assert_eq!(node_a.recovered_at_open(), 5);
    for m in &mine[1..] {
        let now = node_a.get(m.id).await.unwrap().unwrap();
        assert_eq!(now.state, State::Queued);
        assert_eq!(
            now.history.last().and_then(|t| t.reason.as_deref()),
            Some("restart: no submit_sm_resp seen")
        );
    }
    assert_eq!(
        node_a.get(mine[0].id).await.unwrap().unwrap().state,
        State::Submitted
    );
    for m in &theirs {
        assert_eq!(
            node_b.get(m.id).await.unwrap().unwrap().state,
            State::Submitting,
            "another node's claims are its own"
        );
    }
}

#[tokio::test]
async fn every_node_counts_the_whole_cluster() {
    let pg = TestPostgres::start();
    let node_a = open(&pg, "node-a").await;
    node_a
        .accept_batch((0..3).map(|_| message(Kind::Bulk, None)).collect())
        .await;
    let node_b = open(&pg, "node-b").await;
    node_b.claim_batch(Kind::Bulk, now_ms(), 1).await.unwrap();
    let counts = node_b.counts();
    assert_eq!(counts.queued_in(Kind::Bulk), 2);
    assert_eq!(counts.in_state(State::Submitting), 1);
    assert_eq!(counts.total(), 3);
    assert_eq!(
        open(&pg, "node-c").await.counts(),
        counts,
        "a node that starts reads the cluster's counters"
    );
    // node a hears of node b's claim when it next reads the others' counters
    let mut heard = false;
    for _ in 0..600 {
        if node_a.counts() == counts {
            heard = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(heard, "node a counts node b's claim: {:?}", node_a.counts());
}
