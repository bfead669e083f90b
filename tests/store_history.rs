//! The history tier: finished messages move out of the live store and are still found by id,
//! by reference (idempotency) and by operator id (late receipts); retention erases and forgets
//! them there; a store written before the tier existed moves its finished messages over; and
//! the counters and indexes agree throughout.

mod store_support;

use khabar::message::{Kind, MessageId, State, now_ms};
use khabar::store::{Event, Store, Tier};
use std::time::Duration;
use store_support::{accept_all, assert_consistent, message, open, open_with};

const DAY: i64 = 86_400_000;

/// Accepts a notification, sends it as one part with operator id `op_id` and, unless
/// `receipt` is None, records that receipt.
async fn finished(store: &Store, reference: &str, op_id: &str, receipt: Option<&str>) -> MessageId {
    let id = store
        .accept(message(Kind::Notification, Some(reference)))
        .await
        .unwrap()
        .id;
    let claimed = store
        .claim_next(Kind::Notification, now_ms())
        .await
        .unwrap()
        .expect("claimed");
    assert_eq!(claimed.id, id);
    store
        .mark_submitted(id, "kcell", vec![op_id.to_owned()], Some(now_ms() + 1_000))
        .await
        .unwrap();
    if let Some(stat) = receipt {
        store
            .record_receipt(id, 0, stat, None, now_ms())
            .await
            .unwrap();
    }
    id
}

/// Drives the writer (each flush is a group) until `done` holds. A move ends on the history's
/// committer thread, at nice 19, which on a loaded machine may get the CPU only after many
/// groups: the bound is there to end a test that would never get there, not to time it.
async fn drive_until<F: Future<Output = bool>>(store: &Store, done: impl Fn() -> F) -> bool {
    for _ in 0..100_000 {
        if done().await {
            return true;
        }
        store.flush().await.unwrap();
        tokio::task::yield_now().await;
    }
    done().await
}

/// Drives the writer until `id` is in `tier`.
async fn wait_tier(store: &Store, id: MessageId, tier: Tier) {
    let reached = drive_until(store, || async {
        store.tier_of(id).await.unwrap() == Some(tier)
    })
    .await;
    assert!(
        reached,
        "{id} never reached {tier:?}: {:?}",
        store.tier_of(id).await
    );
}

#[tokio::test]
async fn a_finished_message_moves_and_is_still_found_by_id_reference_and_operator_id() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let id = finished(&store, "crm-1", "k-1", Some("DELIVRD")).await;
    let live = store.get(id).await.unwrap().unwrap();
    wait_tier(&store, id, Tier::History).await;

    assert_eq!(
        store.get(id).await.unwrap(),
        Some(live.clone()),
        "the same story"
    );
    assert_eq!(store.get_by_reference("crm-1").await.unwrap(), Some(live));
    assert_eq!(
        store.find_by_operator_id("kcell", "k-1").await.unwrap(),
        Some((id, 0))
    );
    let again = store
        .accept(message(Kind::Notification, Some("crm-1")))
        .await
        .unwrap();
    assert!(
        again.duplicate,
        "a reference stays taken after its message moved"
    );
    assert_eq!((again.id, again.state), (id, State::Delivered));
    let counts = store.counts();
    assert_eq!(counts.in_state(State::Delivered), 1);
    assert_consistent(&store).await;

    // and after a restart
    drop(store);
    let store = open(dir.path()).await;
    assert_eq!(store.tier_of(id).await.unwrap(), Some(Tier::History));
    assert_eq!(
        store.get_by_reference("crm-1").await.unwrap().map(|m| m.id),
        Some(id)
    );
    assert_consistent(&store).await;
}

#[tokio::test]
async fn a_message_still_awaiting_its_receipt_stays_live() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let waiting = finished(&store, "crm-2", "k-2", None).await;
    let done = finished(&store, "crm-3", "k-3", Some("DELIVRD")).await;
    wait_tier(&store, done, Tier::History).await;
    assert_eq!(store.tier_of(waiting).await.unwrap(), Some(Tier::Live));
    assert_consistent(&store).await;
}

#[tokio::test]
async fn a_moved_message_leaves_no_deadline_behind() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let now = now_ms();
    let mut with_deadlines = message(Kind::Notification, Some("crm-d1"));
    with_deadlines.send_by = Some(now + 2 * DAY);
    with_deadlines.receipt_by = Some(now + 3 * DAY);
    let id = store.accept(with_deadlines).await.unwrap().id;
    store
        .claim_next(Kind::Notification, now_ms())
        .await
        .unwrap()
        .expect("claimed");
    let give_up_at = now + 4 * DAY;
    store
        .mark_submitted(id, "kcell", vec!["k-d1".to_owned()], Some(give_up_at))
        .await
        .unwrap();
    assert_eq!(
        store.get(id).await.unwrap().unwrap().extra.give_up_at,
        Some(give_up_at)
    );
    store
        .record_receipt(id, 0, "DELIVRD", None, now_ms())
        .await
        .unwrap();
    wait_tier(&store, id, Tier::History).await;
    store.flush().await.unwrap();
    assert_eq!(
        store.next_deadline().await.unwrap(),
        None,
        "its deadlines went with it"
    );
    assert_consistent(&store).await;
}

#[tokio::test]
async fn messages_that_move_take_their_deadlines_from_a_bucket_many_messages_share() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    // one deadline instant for all (a deadline rule's end of the working day): one bucket of
    // many chunks, of which the writer reads only as many as it needs
    let send_by = now_ms() + 2 * DAY;
    let batch = (0..3_000)
        .map(|_| {
            let mut m = message(Kind::Notification, None);
            m.send_by = Some(send_by);
            m
        })
        .collect();
    let ids = accept_all(&store, batch).await;
    let leaving: Vec<MessageId> = [&ids[..50], &ids[1_500..1_550], &ids[2_950..]].concat();
    for id in &leaving {
        store.cancel(*id, "test").await.unwrap();
    }
    for id in &leaving {
        wait_tier(&store, *id, Tier::History).await;
    }
    assert_eq!(
        store.next_deadline().await.unwrap(),
        Some(send_by),
        "the others' stay"
    );
    assert_consistent(&store).await;
}

#[tokio::test]
async fn a_late_receipt_for_a_moved_message_is_recorded_in_the_history() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let id = finished(&store, "crm-4", "k-4", None).await;
    // no receipt in time: unknown, then moved
    store
        .fire_due_deadlines(now_ms() + 2_000, 100)
        .await
        .unwrap();
    assert_eq!(store.get(id).await.unwrap().unwrap().state, State::Unknown);
    wait_tier(&store, id, Tier::History).await;

    let landed = store
        .record_or_park_receipt("kcell", vec!["k-4".into()], "DELIVRD", None, now_ms())
        .await
        .unwrap();
    assert!(
        matches!(
            landed,
            khabar::store::ReceiptLanding::Recorded { part: 0, .. }
        ),
        "{landed:?}"
    );
    let m = store.get(id).await.unwrap().unwrap();
    assert_eq!(m.state, State::Unknown, "a late receipt does not revive it");
    assert_eq!(m.parts[0].receipt.as_deref(), Some("DELIVRD"));
    assert_eq!(store.tier_of(id).await.unwrap(), Some(Tier::History));
    assert_consistent(&store).await;
}

#[tokio::test]
async fn retention_erases_and_forgets_moved_messages() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_with(dir.path(), |c| {
        c.move_to_history_after = Duration::ZERO;
        c.erase_texts_after = Duration::from_secs(2 * 86_400);
        c.forget_after = Duration::from_secs(10 * 86_400);
    })
    .await;
    let now = now_ms();
    let id = finished(&store, "crm-5", "k-5", Some("DELIVRD")).await;
    wait_tier(&store, id, Tier::History).await;

    assert_eq!(
        store
            .run_retention(now + DAY, 100)
            .await
            .unwrap()
            .texts_erased,
        0
    );
    assert_eq!(
        store
            .run_retention(now + 3 * DAY, 100)
            .await
            .unwrap()
            .texts_erased,
        1
    );
    let erased = store.get(id).await.unwrap().unwrap();
    assert_eq!((erased.text, erased.state), (None, State::Delivered));
    assert_consistent(&store).await;

    let report = store.run_retention(now + 11 * DAY, 100).await.unwrap();
    assert_eq!(report.forgotten, 1);
    assert_eq!(store.get(id).await.unwrap(), None);
    assert_eq!(store.get_by_reference("crm-5").await.unwrap(), None);
    assert_eq!(
        store.find_by_operator_id("kcell", "k-5").await.unwrap(),
        None
    );
    assert_eq!(store.counts().total(), 0);
    assert_consistent(&store).await;
}

#[tokio::test]
async fn finished_messages_of_a_store_written_before_the_history_tier_move_over() {
    let dir = tempfile::tempdir().unwrap();
    // finished while nothing moves, as a store of the previous format holds them
    let store = open_with(dir.path(), |c| {
        c.move_to_history_after = Duration::from_secs(365 * 86_400);
    })
    .await;
    let mut ids = Vec::new();
    for n in 0..300 {
        ids.push(
            finished(
                &store,
                &format!("old-{n}"),
                &format!("o-{n}"),
                Some("DELIVRD"),
            )
            .await,
        );
    }
    let waiting = finished(&store, "old-waiting", "o-w", None).await;
    drop(store);
    let db = sled::open(dir.path().join("store")).unwrap();
    db.insert("meta/format_version", 2u32.to_be_bytes().to_vec())
        .unwrap();
    db.flush().unwrap();
    drop(db);

    let store = open(dir.path()).await;
    for &id in &ids {
        wait_tier(&store, id, Tier::History).await;
    }
    assert_eq!(store.tier_of(waiting).await.unwrap(), Some(Tier::Live));
    assert_eq!(
        store.get_by_reference("old-7").await.unwrap().map(|m| m.id),
        Some(ids[7])
    );
    assert_eq!(store.counts().in_state(State::Delivered), 300);
    assert_consistent(&store).await;
}

#[tokio::test]
async fn events_move_to_the_history_and_are_read_back_whole_in_order_then_trimmed() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_with(dir.path(), |c| {
        c.move_to_history_after = Duration::ZERO;
        c.keep_events_for = Duration::from_secs(86_400);
    })
    .await;
    for n in 0..50 {
        finished(
            &store,
            &format!("ev-{n}"),
            &format!("e-{n}"),
            Some("DELIVRD"),
        )
        .await;
    }
    let all = store.read_events(0, 10_000).await.unwrap();
    let last = all.last().expect("events").seq;
    let moved = drive_until(&store, || async { store.events_in_history() >= last }).await;
    assert!(moved, "the events moved");
    let seqs: Vec<u64> = store
        .read_events(0, 10_000)
        .await
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(seqs, (1..=last).collect::<Vec<_>>(), "whole and in order");
    let page: Vec<u64> = store
        .read_events(10, 5)
        .await
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(page, vec![11, 12, 13, 14, 15]);

    // a cursor that acknowledged them lets them go
    store.ack_cursor("crm", last).await.unwrap();
    let mut trimmed = 0;
    loop {
        let n = store.trim_events(now_ms(), 1000).await.unwrap();
        store.flush().await.unwrap();
        trimmed += n;
        if n == 0 {
            break;
        }
    }
    assert_eq!(trimmed as u64, last);
    assert!(store.read_events(0, 10_000).await.unwrap().is_empty());
    drop(store);
    let store = open(dir.path()).await;
    assert!(
        store.read_events(0, 10_000).await.unwrap().is_empty(),
        "after a restart too"
    );
    assert_consistent(&store).await;
}

#[tokio::test]
async fn the_first_event_of_an_hour_is_found_in_either_tier() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_with(dir.path(), |c| {
        c.keep_events_for = Duration::from_secs(30 * 86_400);
    })
    .await;
    // events a quarter of an hour apart over the last ten hours
    let base = now_ms() - 10 * 3_600_000;
    let quarter = 900_000;
    for i in 0..40 {
        store
            .append_event(Event::ReceiptOverdue {
                id: MessageId(i + 1),
                reference: None,
                receipt_by: base,
                at: base + i as i64 * quarter,
            })
            .await
            .unwrap();
    }
    let check = async |store: &Store, tier: &str| {
        for wanted in [
            base - 1,
            base + 17 * quarter + 1,
            base + 20 * quarter,
            now_ms(),
        ] {
            let after = store.events_since(wanted).await.unwrap();
            let before: Vec<_> = store.read_events(0, 100).await.unwrap();
            let first = store.read_events(after, 1).await.unwrap();
            let expected = before.iter().find(|e| e.event.at() >= wanted);
            assert_eq!(
                first.first().map(|e| e.seq),
                expected.map(|e| e.seq),
                "{tier}: reading after {after} starts at the first event of {wanted}"
            );
        }
    };
    check(&store, "live").await;
    let last = store.read_events(0, 100).await.unwrap().last().unwrap().seq;
    for n in 0..100 {
        if store.events_in_history() >= last {
            break;
        }
        // a finished message makes the writer move what is due, its events with it
        finished(
            &store,
            &format!("push-{n}"),
            &format!("p-{n}"),
            Some("DELIVRD"),
        )
        .await;
        store.flush().await.unwrap();
    }
    assert!(store.events_in_history() >= last, "the events moved");
    check(&store, "history").await;
}
