//! Accepting messages: durability across reopen, idempotency by reference, batches, ids.

mod store_support;

use khabar::message::{Kind, State, now_ms};
use khabar::store::{Store, StoreConfig, StoreError};
use std::collections::HashSet;
use store_support::{assert_consistent, message, open};

#[tokio::test]
async fn an_accepted_message_is_stored_whole_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut sent = message(Kind::Notification, Some("doc-1"));
    sent.send_by = Some(now_ms() + 3_600_000);
    sent.receipt_by = Some(now_ms() + 7_200_000);
    sent.extra.template = Some("housing_queue".into());
    let accepted = {
        let store = open(dir.path()).await;
        let accepted = store.accept(sent.clone()).await.unwrap();
        assert_eq!(accepted.state, State::Queued);
        assert!(!accepted.duplicate);
        accepted
    };
    let store = open(dir.path()).await;
    let stored = store
        .get(accepted.id)
        .await
        .unwrap()
        .expect("message is back after reopen");
    assert_eq!(stored.reference, sent.reference);
    assert_eq!(stored.kind, sent.kind);
    assert_eq!(stored.recipient, sent.recipient);
    assert_eq!(stored.sender, sent.sender);
    assert_eq!(stored.text.as_deref(), Some(sent.text.as_str()));
    assert_eq!(
        (stored.send_by, stored.receipt_by),
        (sent.send_by, sent.receipt_by)
    );
    assert_eq!(stored.extra, sent.extra);
    assert_eq!(stored.state, State::Queued);
    assert_eq!(stored.history.len(), 1);
    assert_eq!(stored.attempts, 0);
    assert_eq!(
        store.get_by_reference("doc-1").await.unwrap().map(|m| m.id),
        Some(accepted.id)
    );
    assert_eq!(store.counts().queued_in(Kind::Notification), 1);
    assert_consistent(&store).await;
}

#[tokio::test]
async fn a_repeated_reference_returns_the_first_message() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let first = store
        .accept(message(Kind::Otp, Some("otp-7")))
        .await
        .unwrap();
    let mut changed = message(Kind::Otp, Some("otp-7"));
    changed.text = "a different text".into();
    let second = store.accept(changed).await.unwrap();
    assert_eq!(second.id, first.id);
    assert!(second.duplicate);
    assert_eq!(store.counts().total(), 1);

    // after cancelling, a repeat reports the first message's current state
    store
        .cancel(first.id, "upstream changed its mind")
        .await
        .unwrap();
    let third = store
        .accept(message(Kind::Otp, Some("otp-7")))
        .await
        .unwrap();
    assert_eq!(
        (third.id, third.state, third.duplicate),
        (first.id, State::Cancelled, true)
    );
    drop(store);
    let store = open(dir.path()).await;
    let fourth = store
        .accept(message(Kind::Otp, Some("otp-7")))
        .await
        .unwrap();
    assert_eq!((fourth.id, fourth.duplicate), (first.id, true));
    assert_consistent(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_accepts_of_one_reference_store_one_message() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let mut tasks = Vec::new();
    for i in 0..64 {
        let store = store.clone();
        let reference = format!("ref-{}", i % 8);
        tasks.push(tokio::spawn(async move {
            store.accept(message(Kind::Bulk, Some(&reference))).await
        }));
    }
    let mut ids_by_reference = std::collections::HashMap::new();
    for (i, task) in tasks.into_iter().enumerate() {
        let accepted = task.await.unwrap().unwrap();
        let id = *ids_by_reference.entry(i % 8).or_insert(accepted.id);
        assert_eq!(
            accepted.id,
            id,
            "every accept of ref-{} answers one id",
            i % 8
        );
    }
    assert_eq!(store.counts().total(), 8);
    assert_consistent(&store).await;
}

#[tokio::test]
async fn a_batch_answers_in_order_and_deduplicates_within_itself() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let before = store
        .accept(message(Kind::Request, Some("old")))
        .await
        .unwrap();
    let batch = vec![
        message(Kind::Bulk, Some("a")),
        message(Kind::Otp, Some("b")),
        message(Kind::Bulk, Some("a")),
        message(Kind::Notification, None),
        message(Kind::Request, Some("old")),
    ];
    let answers: Vec<_> = store
        .accept_batch(batch.clone())
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(answers[2].id, answers[0].id);
    assert!(answers[2].duplicate && !answers[0].duplicate);
    assert_eq!(answers[4].id, before.id);
    assert!(answers[4].duplicate);
    for (answer, sent) in answers.iter().zip(&batch) {
        let stored = store.get(answer.id).await.unwrap().unwrap();
        assert_eq!(
            stored.kind, sent.kind,
            "answer order matches the batch order"
        );
        assert_eq!(stored.reference, sent.reference);
    }
    let distinct: HashSet<_> = answers.iter().map(|a| a.id).collect();
    assert_eq!(distinct.len(), 4);
    assert_eq!(store.counts().total(), 4);
    assert_consistent(&store).await;
}

#[tokio::test]
async fn ids_keep_increasing_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut last = None;
    for _ in 0..3 {
        let store = open(dir.path()).await;
        let answers = store
            .accept_batch((0..50).map(|_| message(Kind::Bulk, None)).collect())
            .await;
        for answer in answers {
            let id = answer.unwrap().id;
            assert!(last.is_none_or(|l| id > l), "{id} after {last:?}");
            last = Some(id);
        }
    }
    let store = open(dir.path()).await;
    assert_eq!(store.counts().total(), 150);
    assert_consistent(&store).await;
}

#[tokio::test]
async fn a_message_already_past_send_by_is_expired_not_queued() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let mut late = message(Kind::Otp, Some("late"));
    late.send_by = Some(now_ms() - 1_000);
    let accepted = store.accept(late).await.unwrap();
    assert_eq!(accepted.state, State::Expired);
    assert!(
        store
            .claim_next(Kind::Otp, now_ms())
            .await
            .unwrap()
            .is_none()
    );
    let events = store.read_events(0, 10).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_consistent(&store).await;
}

/// Rewrites every record of the sled database at `path` as format 1 wrote it (field names).
fn rewrite_as_format_1(path: &std::path::Path) {
    use khabar::store::codec::{self, IntakeChunk, NAMED_RECORD_VERSION};
    use khabar::store::keys;
    let named = |bytes: &[u8]| {
        let record = codec::decode_record(bytes).unwrap();
        codec::encode(NAMED_RECORD_VERSION, &record).unwrap()
    };
    let db = sled::open(path).unwrap();
    let mut rewritten = 0;
    for kv in db.scan_prefix(keys::RECORD) {
        let (k, v) = kv.unwrap();
        db.insert(k, named(&v)).unwrap();
        rewritten += 1;
    }
    for kv in db.scan_prefix(keys::INTAKE) {
        let (k, v) = kv.unwrap();
        let mut chunk = IntakeChunk::decode(&v).unwrap();
        for (_, record) in &mut chunk.records {
            *record = named(record);
            rewritten += 1;
        }
        db.insert(k, chunk.encode()).unwrap();
    }
    assert!(rewritten > 0, "no record found to rewrite");
    db.insert(keys::FORMAT_VERSION, 1u32.to_be_bytes().to_vec())
        .unwrap();
    db.flush().unwrap();
}

#[tokio::test]
async fn a_store_of_the_previous_format_opens_and_its_messages_are_read() {
    if store_support::on_postgres() {
        eprintln!("sled's own file format: nothing to check on the cluster engine");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // one message claimed (its own record), one still queued (in its intake chunk)
    let ids = {
        let store = open(dir.path()).await;
        let first = store
            .accept(message(Kind::Bulk, Some("old-1")))
            .await
            .unwrap();
        let second = store
            .accept(message(Kind::Bulk, Some("old-2")))
            .await
            .unwrap();
        let claimed = store.claim_next(Kind::Bulk, now_ms()).await.unwrap();
        assert_eq!(claimed.map(|m| m.id), Some(first.id));
        [first.id, second.id]
    };
    let before = {
        let store = open(dir.path()).await;
        let mut before = Vec::new();
        for id in ids {
            before.push(store.get(id).await.unwrap().expect("stored"));
        }
        before
    };
    rewrite_as_format_1(&dir.path().join("store"));
    let store = open(dir.path()).await;
    let mut after = Vec::new();
    for id in ids {
        after.push(store.get(id).await.unwrap().expect("still there"));
    }
    assert_eq!(after, before);
    assert_consistent(&store).await;
    drop(store);
    let db = sled::open(dir.path().join("store")).unwrap();
    let format = db
        .get(khabar::store::keys::FORMAT_VERSION)
        .unwrap()
        .unwrap();
    assert_eq!(format.as_ref(), khabar::store::FORMAT_VERSION.to_be_bytes());
}

#[tokio::test]
async fn a_store_of_another_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    {
        let db = sled::open(&path).unwrap();
        db.insert(
            khabar::store::keys::FORMAT_VERSION,
            99u32.to_be_bytes().to_vec(),
        )
        .unwrap();
        db.flush().unwrap();
    }
    match Store::open(&StoreConfig::at(&path)) {
        Err(StoreError::UnsupportedFormat {
            found: 99,
            supported,
        }) => {
            assert_eq!(supported, khabar::store::FORMAT_VERSION)
        }
        other => panic!("expected a format error, got {:?}", other.map(|_| ())),
    }
    let other = dir.path().join("other");
    {
        let db = sled::open(&other).unwrap();
        db.insert(b"something", b"else".to_vec()).unwrap();
        db.flush().unwrap();
    }
    assert!(matches!(
        Store::open(&StoreConfig::at(&other)),
        Err(StoreError::Corrupt(_))
    ));
}
