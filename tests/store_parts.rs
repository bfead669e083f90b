//! What the store keeps of a message the operator acknowledged only in part, and of receipts
//! that arrive before anything matches them: acknowledged parts keep their ids through a
//! retry and a restart (so only the others are sent again), and an early receipt is parked
//! on disk and applied when its submit result lands.

mod store_support;

use khabar::message::{Kind, MessageId, State, now_ms};
use khabar::operator_id::id_candidates;
use khabar::store::{ReceiptLanding, Store};
use store_support::{assert_consistent, message, open};

/// Accepts one message and claims it (it is `submitting`).
async fn claimed(store: &Store) -> MessageId {
    let id = store
        .accept(message(Kind::Notification, None))
        .await
        .unwrap()
        .id;
    let claimed = store
        .claim_next(Kind::Notification, now_ms())
        .await
        .unwrap()
        .expect("due now");
    assert_eq!(claimed.id, id);
    id
}

/// Parks (or records) a receipt for operator id `raw` of kcell.
async fn receipt(store: &Store, raw: &str, stat: &str) -> ReceiptLanding {
    store
        .record_or_park_receipt("kcell", id_candidates(raw), stat, None, now_ms())
        .await
        .unwrap()
}

#[tokio::test]
async fn acknowledged_parts_keep_their_ids_through_a_retry_and_only_the_rest_are_missing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let id = claimed(&store).await;
    // parts 1 and 3 of 3 accepted, part 2 throttled
    let accepted = vec![(0, "a1".to_owned()), (2, "a3".to_owned())];
    let m = store
        .record_accepted(id, "kcell", 3, accepted, Some(77), None)
        .await
        .unwrap();
    assert_eq!(m.state, State::Submitting, "one part is still missing");
    let m = store
        .requeue_uncounted(id, now_ms(), "ESME_RTHROTTLED", now_ms())
        .await
        .unwrap();
    assert_eq!(m.state, State::Queued);
    let ids: Vec<Option<&str>> = m.parts.iter().map(|p| p.operator_id.as_deref()).collect();
    assert_eq!(ids, [Some("a1"), None, Some("a3")]);
    assert_eq!(
        m.concat_ref,
        Some(77),
        "the parts sent again carry the same reference"
    );
    assert_eq!(
        store.find_by_operator_id("kcell", "a3").await.unwrap(),
        Some((id, 2))
    );

    // a receipt for an acknowledged part lands while the message waits in the queue
    let landed = receipt(&store, "a1", "DELIVRD").await;
    assert!(
        matches!(landed, ReceiptLanding::Recorded { part: 0, .. }),
        "{landed:?}"
    );
    assert_eq!(store.get(id).await.unwrap().unwrap().state, State::Queued);

    store
        .claim_next(Kind::Notification, now_ms())
        .await
        .unwrap()
        .expect("due again");
    let m = store
        .record_accepted(id, "kcell", 3, vec![(1, "a2".to_owned())], Some(77), None)
        .await
        .unwrap();
    assert_eq!(m.state, State::Submitted);
    for (part, raw) in [(1, "a2"), (2, "a3")] {
        receipt(&store, raw, "DELIVRD").await;
        let m = store.get(id).await.unwrap().unwrap();
        let expected = if part == 2 {
            State::Delivered
        } else {
            State::Submitted
        };
        assert_eq!(m.state, expected);
    }
    assert_consistent(&store).await;
}

#[tokio::test]
async fn another_operators_ids_are_forgotten_when_the_message_goes_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let id = claimed(&store).await;
    store
        .record_accepted(id, "kcell", 2, vec![(0, "k1".to_owned())], Some(5), None)
        .await
        .unwrap();
    store
        .requeue(id, now_ms(), "connection lost", now_ms())
        .await
        .unwrap();
    store
        .claim_next(Kind::Notification, now_ms())
        .await
        .unwrap()
        .unwrap();
    let both = vec![(0, "b1".to_owned()), (1, "b2".to_owned())];
    let m = store
        .record_accepted(id, "beeline", 2, both, Some(9), None)
        .await
        .unwrap();
    assert_eq!(m.state, State::Submitted);
    assert_eq!(m.operator.as_deref(), Some("beeline"));
    assert_eq!(
        store.find_by_operator_id("kcell", "k1").await.unwrap(),
        None
    );
    assert_eq!(
        store.find_by_operator_id("beeline", "b2").await.unwrap(),
        Some((id, 1))
    );
    assert_consistent(&store).await;
}

#[tokio::test]
async fn a_restart_keeps_the_parts_acknowledged_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let store = open(dir.path()).await;
        let id = claimed(&store).await;
        store
            .record_accepted(id, "kcell", 2, vec![(1, "x2".to_owned())], Some(3), None)
            .await
            .unwrap();
        id // dropped while `submitting`, as after a crash
    };
    let store = open(dir.path()).await;
    let m = store.get(id).await.unwrap().unwrap();
    assert_eq!(m.state, State::Queued, "recovered");
    assert_eq!(m.parts[1].operator_id.as_deref(), Some("x2"));
    assert_eq!(m.parts[0].operator_id, None);
    assert_consistent(&store).await;
}

#[tokio::test]
async fn a_receipt_before_its_submit_result_is_parked_and_applied_when_it_lands() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let id = claimed(&store).await;
    assert_eq!(
        receipt(&store, "0A1B", "DELIVRD").await,
        ReceiptLanding::Parked
    );
    // the submit_sm_resp said 0a1b: the parked receipt completes the message at once
    let m = store
        .mark_submitted(id, "kcell", vec!["0a1b".to_owned()], None)
        .await
        .unwrap();
    assert_eq!(m.state, State::Delivered, "{:?}", m.history);
    assert_eq!(m.parts[0].receipt.as_deref(), Some("DELIVRD"));
    let dropped = store.drop_parked_receipts(now_ms() + 1, 100).await.unwrap();
    assert_eq!(dropped.total(), 0, "the receipt was used, not left parked");
    assert_consistent(&store).await;
}

#[tokio::test]
async fn a_parked_receipt_matches_an_id_written_in_the_other_base_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let store = open(dir.path()).await;
        let id = claimed(&store).await;
        // the receipt says 2587 (decimal); the submit_sm_resp will say 0A1B (hex)
        assert_eq!(
            receipt(&store, "2587", "UNDELIV").await,
            ReceiptLanding::Parked
        );
        id
    };
    let store = open(dir.path()).await;
    store
        .claim_next(Kind::Notification, now_ms())
        .await
        .unwrap()
        .expect("recovered and due");
    let m = store
        .mark_submitted(id, "kcell", vec!["0A1B".to_owned()], None)
        .await
        .unwrap();
    assert_eq!(m.state, State::Undeliverable, "{:?}", m.history);
    assert_consistent(&store).await;
}

#[tokio::test]
async fn receipts_matching_nothing_are_dropped_after_their_hold_and_counted_per_operator() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    for n in 0..3 {
        receipt(&store, &format!("ff{n}"), "DELIVRD").await;
    }
    let parked_until = now_ms();
    let kept = store
        .drop_parked_receipts(parked_until - 60_000, 100)
        .await
        .unwrap();
    assert_eq!(kept.total(), 0, "none is older than the hold yet");
    let first = store
        .drop_parked_receipts(parked_until + 1, 2)
        .await
        .unwrap();
    assert_eq!((first.total(), first.more), (2, true));
    let rest = store
        .drop_parked_receipts(parked_until + 1, 2)
        .await
        .unwrap();
    assert_eq!((rest.total(), rest.more), (1, false));
    assert_eq!(rest.by_operator.get("kcell"), Some(&1));
    assert_consistent(&store).await;
}
