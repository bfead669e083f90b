//! Retention: texts erased after the text retention, messages forgotten after the record
//! retention, and the event log trimmed behind the slowest consumer.

mod store_support;

use khabar::message::{Kind, State, now_ms};
use std::time::Duration;
use store_support::{accept_bulk, assert_consistent, event_seqs, message, open_with};

const DAY: i64 = 86_400_000;

#[tokio::test]
async fn finished_texts_are_erased_and_old_messages_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_with(dir.path(), |c| {
        c.erase_texts_after = Duration::from_secs(2 * 86_400);
        c.forget_after = Duration::from_secs(10 * 86_400);
    })
    .await;
    let now = now_ms();
    let done = store
        .accept(message(Kind::Notification, Some("done")))
        .await
        .unwrap()
        .id;
    let waiting = store
        .accept(message(Kind::Notification, Some("waiting")))
        .await
        .unwrap()
        .id;
    let claimed = store
        .claim_next(Kind::Notification, now_ms())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.id, done);
    store
        .mark_submitted(done, "kcell", vec!["k-1".into()], None)
        .await
        .unwrap();
    store
        .record_receipt(done, 0, "DELIVRD", None, now + 2)
        .await
        .unwrap();

    let early = store.run_retention(now + DAY, 100).await.unwrap();
    assert_eq!(early.texts_erased, 0);
    let report = store.run_retention(now + 3 * DAY, 100).await.unwrap();
    assert_eq!(report.texts_erased, 1);
    let m = store.get(done).await.unwrap().unwrap();
    assert_eq!(m.text, None);
    assert_eq!(m.state, State::Delivered, "metadata stays");
    assert_eq!(m.history.len(), 4, "history stays");
    assert!(
        store.get(waiting).await.unwrap().unwrap().text.is_some(),
        "a queued message keeps its text"
    );

    let report = store.run_retention(now + 11 * DAY, 100).await.unwrap();
    assert_eq!(report.forgotten, 1);
    assert!(store.get(done).await.unwrap().is_none());
    assert!(store.get_by_reference("done").await.unwrap().is_none());
    assert_eq!(
        store.find_by_operator_id("kcell", "k-1").await.unwrap(),
        None
    );
    assert_eq!(store.counts().total(), 1);
    assert!(store.get(waiting).await.unwrap().is_some());
    assert_consistent(&store).await;

    // the waiting message finishes later and gets its turn although the walk passed it
    store.cancel(waiting, "not needed").await.unwrap();
    let later = store.run_retention(now_ms() + 3 * DAY, 100).await.unwrap();
    assert_eq!(later.texts_erased, 1);
    assert_eq!(store.get(waiting).await.unwrap().unwrap().text, None);
    assert_consistent(&store).await;
}

#[tokio::test]
async fn events_are_trimmed_behind_the_slowest_consumer_or_when_too_old() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_with(dir.path(), |c| {
        c.keep_events_for = Duration::from_secs(86_400)
    })
    .await;
    let now = now_ms();
    let ids = accept_bulk(&store, 4).await;
    for id in &ids {
        store.cancel(*id, "test").await.unwrap();
    }
    let seqs = event_seqs(&store, 0, 10).await;
    assert_eq!(seqs.len(), 4);
    store.ack_cursor("fast", seqs[3]).await.unwrap();
    store.ack_cursor("slow", seqs[1]).await.unwrap();
    assert_eq!(store.trim_events(now, 100).await.unwrap(), 2);
    let left = event_seqs(&store, 0, 10).await;
    assert_eq!(left, seqs[2..].to_vec());
    assert_eq!(
        store.trim_events(now + 2 * 86_400_000, 100).await.unwrap(),
        2,
        "too old for anyone"
    );
    assert!(store.read_events(0, 10).await.unwrap().is_empty());
    assert_consistent(&store).await;
}

#[tokio::test]
async fn events_written_together_are_trimmed_and_read_one_by_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_with(dir.path(), |c| {
        c.keep_events_for = Duration::from_secs(86_400)
    })
    .await;
    let now = now_ms();
    let ids = accept_bulk(&store, 6).await;
    // concurrent changes usually land in one writer group, whose events share one key
    let cancels = ids.iter().map(|id| store.cancel(*id, "test"));
    for cancelled in futures::future::join_all(cancels).await {
        cancelled.unwrap();
    }
    let seqs = event_seqs(&store, 0, 10).await;
    assert_eq!(seqs.len(), 6);
    let after_third = event_seqs(&store, seqs[2], 2).await;
    assert_eq!(after_third, seqs[3..5].to_vec());
    store.ack_cursor("only", seqs[2]).await.unwrap();
    assert_eq!(store.trim_events(now, 100).await.unwrap(), 3);
    let left = event_seqs(&store, 0, 10).await;
    assert_eq!(left, seqs[3..].to_vec());
    assert_consistent(&store).await;
    store.ack_cursor("only", seqs[5]).await.unwrap();
    assert_eq!(store.trim_events(now, 100).await.unwrap(), 3);
    assert!(store.read_events(0, 10).await.unwrap().is_empty());
    assert_consistent(&store).await;
}
