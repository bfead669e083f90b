//! Deadlines and housekeeping on the cluster engine, against a real PostgreSQL each test
//! starts (test-postgres): deadlines fired by the rules both engines share, the scheduler's
//! and status's reads, events appended and trimmed, parked receipts dropped.
//!
//! These tests need PostgreSQL's server binaries and fail, saying so, without them.

mod store_support;

use khabar::message::{Kind, State, now_ms};
use khabar::operator_id::id_candidates;
use khabar::store::Event;
use khabar::store::StoreConfig;
use khabar::store::postgres::PgStore;
use khabar::store::rules::Change;
use std::time::Duration;
use store_support::{message, open_cluster};
use test_postgres::TestPostgres;

async fn open(pg: &TestPostgres, node: &str) -> PgStore {
    open_cluster(pg, node, StoreConfig::default()).await
}

#[tokio::test]
async fn each_deadline_fires_once_when_its_time_comes() {
    let pg = TestPostgres::start();
    let store = open(&pg, "node-a").await;
    let now = now_ms();
    let mut expiring = message(Kind::Notification, Some("send-by"));
    expiring.send_by = Some(now + 60_000);
    let mut watched = message(Kind::Notification, Some("receipt-by"));
    watched.receipt_by = Some(now + 120_000);
    let ids: Vec<_> = store
        .accept_batch(vec![expiring, watched])
        .await
        .into_iter()
        .map(|a| a.unwrap().id)
        .collect();
    assert_eq!(store.next_deadline().await.unwrap(), Some(now + 60_000));

    // the second is sent and acknowledged, with a final-receipt timeout after its receipt_by
    let claimed = store
        .claim_batch(Kind::Notification, now_ms(), 10)
        .await
        .unwrap();
    let sent = claimed.iter().find(|m| m.id == ids[1]).unwrap().id;
    let first = claimed.iter().find(|m| m.id == ids[0]).unwrap().id;
    let retry = Change::Requeue {
        due: now + 1_000,
        reason: "throttled".into(),
        refund: true,
    };
    store.change(first, retry, now).await.unwrap();
    let acked = Change::Accepted {
        operator: "kcell".into(),
        parts: 1,
        accepted: vec![(0, "R1".into())],
        concat_ref: None,
        give_up_at: Some(now + 180_000),
    };
    store.change(sent, acked, now).await.unwrap();

    let fired = store.fire_due_deadlines(now + 59_999, 100).await.unwrap();
    assert_eq!(fired.total(), 0, "nothing is due yet");
    let fired = store.fire_due_deadlines(now + 60_000, 100).await.unwrap();
    assert_eq!((fired.expired, fired.overdue, fired.gave_up), (1, 0, 0));
    assert_eq!(
        store.get(first).await.unwrap().unwrap().state,
        State::Expired
    );
    let fired = store.fire_due_deadlines(now + 200_000, 100).await.unwrap();
    assert_eq!((fired.expired, fired.overdue, fired.gave_up), (0, 1, 1));
    let gave_up = store.get(sent).await.unwrap().unwrap();
    assert_eq!(gave_up.state, State::Unknown);
    assert_eq!(gave_up.extra.receipt_overdue_at, Some(now + 200_000));
    assert_eq!(
        store.next_deadline().await.unwrap(),
        None,
        "nothing left to fire"
    );
    let fired = store.fire_due_deadlines(now + 300_000, 100).await.unwrap();
    assert_eq!(fired.total(), 0, "a deadline fires once");
    let events = store.read_events(0, 100).await.unwrap();
    assert!(events.iter().any(|e| matches!(
        &e.event,
        Event::ReceiptOverdue { id, .. } if *id == sent
    )));
}

#[tokio::test]
async fn the_scheduler_and_status_read_the_queue_and_what_is_in_flight() {
    let pg = TestPostgres::start();
    let store = open(&pg, "node-a").await;
    let now = now_ms();
    let mut later = message(Kind::Bulk, None);
    later.extra.held_until = Some(now + 3_600_000);
    let ids: Vec<_> = store
        .accept_batch(vec![
            message(Kind::Bulk, None),
            later,
            message(Kind::Bulk, None),
        ])
        .await
        .into_iter()
        .map(|a| a.unwrap().id)
        .collect();
    let head = store.queued_head(Kind::Bulk, 10).await.unwrap();
    assert_eq!(
        head.iter().map(|(_, m)| m.id).collect::<Vec<_>>(),
        vec![ids[0], ids[2], ids[1]],
        "due now first, then the one held"
    );
    assert_eq!(head[2].0, now + 3_600_000);
    assert_eq!(store.lane_head(Kind::Otp).await.unwrap(), None);
    let claimed = store.claim_batch(Kind::Bulk, now_ms(), 1).await.unwrap();
    let flying = store.in_flight(10).await.unwrap();
    assert_eq!(
        flying.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![claimed[0].id]
    );
    let acked = Change::Accepted {
        operator: "kcell".into(),
        parts: 1,
        accepted: vec![(0, "S1".into())],
        concat_ref: None,
        give_up_at: None,
    };
    store.change(claimed[0].id, acked, now_ms()).await.unwrap();
    let awaiting = store.awaiting_receipts().await.unwrap();
    assert_eq!(awaiting.len(), 1);
    assert!(awaiting[0].submitted && awaiting[0].id == claimed[0].id);
    assert!(store.in_flight(10).await.unwrap().is_empty());
}

#[tokio::test]
async fn events_are_trimmed_once_acknowledged_or_old_and_parked_receipts_dropped() {
    let pg = TestPostgres::start();
    // events are kept no time at all here: a trim's `now` is where the retention ends
    let keep_none = StoreConfig {
        keep_events_for: Duration::ZERO,
        ..StoreConfig::default()
    };
    let store = open_cluster(&pg, "node-a", keep_none).await;
    let now = now_ms();
    let mut seqs = Vec::new();
    for i in 0..4 {
        let event = Event::ReceiptOverdue {
            id: khabar::message::MessageId(i + 1),
            reference: None,
            receipt_by: now,
            at: now + i as i64,
        };
        seqs.push(store.append_event(event).await.unwrap());
    }
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(store.events_since(now + 2).await.unwrap(), seqs[1]);
    store.ack_cursor("crm", seqs[1]).await.unwrap();
    assert_eq!(
        store.trim_events(now - 1, 100).await.unwrap(),
        2,
        "acknowledged"
    );
    assert_eq!(
        store.trim_events(now + 3, 100).await.unwrap(),
        1,
        "older than kept"
    );
    let left = store.read_events(0, 10).await.unwrap();
    assert_eq!(
        left.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![seqs[3]]
    );

    for id in ["P1", "P2"] {
        store
            .record_or_park_receipt("beeline", id_candidates(id), "DELIVRD", None, now)
            .await
            .unwrap();
    }
    let dropped = store.drop_parked_receipts(now_ms() + 1, 100).await.unwrap();
    assert_eq!(dropped.by_operator.get("beeline"), Some(&2));
    assert!(!dropped.more);
}

#[tokio::test]
async fn finished_messages_lose_their_texts_then_are_forgotten() {
    let pg = TestPostgres::start();
    let retention = StoreConfig {
        erase_texts_after: Duration::from_secs(60),
        forget_after: Duration::from_secs(3_600),
        ..StoreConfig::default()
    };
    let store = open_cluster(&pg, "node-a", retention).await;
    let ids: Vec<_> = store
        .accept_batch(vec![
            message(Kind::Bulk, Some("old")),
            message(Kind::Bulk, Some("live")),
        ])
        .await
        .into_iter()
        .map(|a| a.unwrap().id)
        .collect();
    let now = now_ms();
    let finish = Change::Finish {
        state: State::Rejected,
        reason: "operator said no".into(),
    };
    store.change(ids[0], finish, now).await.unwrap();
    assert_eq!(store.counts().in_state(State::Rejected), 1);

    let report = store.run_retention(now + 59_000, 100).await.unwrap();
    assert_eq!((report.texts_erased, report.forgotten), (0, 0), "not yet");
    let report = store.run_retention(now + 61_000, 100).await.unwrap();
    assert_eq!((report.texts_erased, report.forgotten), (1, 0));
    let old = store.get(ids[0]).await.unwrap().unwrap();
    assert_eq!(old.text, None, "its text is erased");
    assert_eq!(old.state, State::Rejected, "its story is kept");
    let live = store.get(ids[1]).await.unwrap().unwrap();
    assert!(live.text.is_some(), "a message not finished keeps its text");

    let report = store.run_retention(now + 3_601_000, 100).await.unwrap();
    assert_eq!(report.forgotten, 1);
    assert_eq!(store.get(ids[0]).await.unwrap(), None);
    assert_eq!(store.get_by_reference("old").await.unwrap(), None);
    assert_eq!(
        store.counts().in_state(State::Rejected),
        0,
        "no longer counted"
    );
    assert_eq!(store.counts().total(), 1);
}
