//! Deadlines from the time-ordered index: expiry before send, receipt overdue, giving up on
//! receipts, and deadlines that passed while the store was closed.

mod store_support;

use khabar::message::{Kind, State, now_ms};
use khabar::store::Event;
use store_support::{assert_consistent, message, open};

#[tokio::test]
async fn a_queued_message_past_send_by_expires_and_is_never_sent() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let now = now_ms();
    let mut otp = message(Kind::Otp, Some("otp-1"));
    otp.send_by = Some(now + 60_000);
    let id = store.accept(otp).await.unwrap().id;
    let early = store.fire_due_deadlines(now + 59_999, 100).await.unwrap();
    assert_eq!(early.expired, 0);
    let fired = store.fire_due_deadlines(now + 60_000, 100).await.unwrap();
    assert_eq!(fired.expired, 1);
    let m = store.get(id).await.unwrap().unwrap();
    assert_eq!(m.state, State::Expired);
    assert_eq!(m.text, None, "an expired OTP's code is erased at once");
    assert!(
        store
            .claim_next(Kind::Otp, now + 120_000)
            .await
            .unwrap()
            .is_none()
    );
    let events = store.read_events(0, 10).await.unwrap();
    assert!(
        matches!(events[0].event, Event::StateChanged { state: State::Expired, id: e, .. } if e == id)
    );
    assert_consistent(&store).await;
}

#[tokio::test]
async fn a_claim_never_hands_out_a_message_past_send_by() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let now = now_ms();
    let mut stale = message(Kind::Otp, None);
    stale.send_by = Some(now + 1_000);
    let stale = store.accept(stale).await.unwrap().id;
    let fresh = store.accept(message(Kind::Otp, None)).await.unwrap().id;
    // the watcher has not run: the claim itself refuses the stale one
    let claimed = store
        .claim_next(Kind::Otp, now + 2_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.id, fresh);
    assert_eq!(
        store.get(stale).await.unwrap().unwrap().state,
        State::Expired
    );
    // and the stale entry in sled's deadline index is dropped harmlessly later (the cluster
    // engine's deadline is the row's own column: nothing is left behind there)
    let fired = store.fire_due_deadlines(now + 2_000, 100).await.unwrap();
    let stale_entries = if store_support::on_postgres() { 0 } else { 1 };
    assert_eq!((fired.expired, fired.dropped), (0, stale_entries));
    assert_consistent(&store).await;
}

#[tokio::test]
async fn a_retry_after_send_by_waits_and_expires_at_send_by_not_before() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let now = now_ms();
    let mut otp = message(Kind::Otp, None);
    let send_by = now + 10_000;
    otp.send_by = Some(send_by);
    let id = store.accept(otp).await.unwrap().id;
    store
        .claim_next(Kind::Otp, now_ms())
        .await
        .unwrap()
        .unwrap();
    let m = store
        .requeue(id, now + 20_000, "ESME_RSYSERR", now)
        .await
        .unwrap();
    assert_eq!(m.state, State::Queued, "its send_by has not passed yet");
    let early = store.fire_due_deadlines(send_by - 1, 100).await.unwrap();
    assert_eq!(early.expired, 0);
    let fired = store.fire_due_deadlines(send_by, 100).await.unwrap();
    assert_eq!(fired.expired, 1);
    let m = store.get(id).await.unwrap().unwrap();
    assert_eq!(m.state, State::Expired);
    let expired = m.history.last().unwrap();
    assert_eq!(expired.at, send_by, "expired at its send_by");
    let retried = &m.history[m.history.len() - 2];
    assert!(
        retried.reason.as_deref().unwrap().contains("ESME_RSYSERR"),
        "{m:?}"
    );
    assert_consistent(&store).await;
}

#[tokio::test]
async fn receipt_overdue_fires_once_for_messages_without_a_final_receipt() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let now = now_ms();
    let mut waiting = message(Kind::Notification, Some("w"));
    waiting.receipt_by = Some(now + 300_000);
    let mut answered = message(Kind::Notification, Some("a"));
    answered.receipt_by = Some(now + 300_000);
    let waiting = store.accept(waiting).await.unwrap().id;
    let answered = store.accept(answered).await.unwrap().id;
    for _ in 0..2 {
        let m = store
            .claim_next(Kind::Notification, now_ms())
            .await
            .unwrap()
            .unwrap();
        store
            .mark_submitted(m.id, "kcell", vec![format!("k{}", m.id)], None)
            .await
            .unwrap();
    }
    store
        .record_receipt(answered, 0, "DELIVRD", None, now + 2)
        .await
        .unwrap();
    let fired = store.fire_due_deadlines(now + 300_000, 100).await.unwrap();
    assert_eq!(fired.overdue, 1);
    let again = store.fire_due_deadlines(now + 400_000, 100).await.unwrap();
    assert_eq!(again.overdue, 0);
    let overdue: Vec<_> = store
        .read_events(0, 100)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.event {
            Event::ReceiptOverdue { id, receipt_by, .. } => Some((id, receipt_by)),
            _ => None,
        })
        .collect();
    assert_eq!(overdue, vec![(waiting, now + 300_000)]);
    assert_eq!(
        store.get(waiting).await.unwrap().unwrap().state,
        State::Submitted,
        "overdue is news, not a state"
    );
    let noted = async |id| {
        store
            .get(id)
            .await
            .unwrap()
            .unwrap()
            .extra
            .receipt_overdue_at
    };
    assert_eq!(
        noted(waiting).await,
        Some(now + 300_000),
        "its story tells it"
    );
    assert_eq!(noted(answered).await, None);
    assert_consistent(&store).await;
}

#[tokio::test]
async fn a_submitted_message_without_receipt_becomes_unknown_at_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let now = now_ms();
    let id = store.accept(message(Kind::Bulk, None)).await.unwrap().id;
    store
        .claim_next(Kind::Bulk, now_ms())
        .await
        .unwrap()
        .unwrap();
    store
        .mark_submitted(id, "altel", vec!["z".into()], Some(now + 1_000))
        .await
        .unwrap();
    let fired = store.fire_due_deadlines(now + 1_000, 100).await.unwrap();
    assert_eq!(fired.gave_up, 1);
    let m = store.get(id).await.unwrap().unwrap();
    assert_eq!(m.state, State::Unknown);
    // a late receipt is still recorded, without reviving the message
    let late = store
        .record_receipt(id, 0, "DELIVRD", None, now + 2_000)
        .await
        .unwrap();
    assert_eq!(late.state, State::Unknown);
    assert_eq!(late.parts[0].receipt.as_deref(), Some("DELIVRD"));
    assert_consistent(&store).await;
}

#[tokio::test]
async fn deadlines_that_passed_while_closed_fire_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let now = now_ms();
    let id = {
        let store = open(dir.path()).await;
        let mut m = message(Kind::Otp, None);
        m.send_by = Some(now + 500);
        m.receipt_by = Some(now + 800);
        store.accept(m).await.unwrap().id
    };
    let store = open(dir.path()).await;
    assert_eq!(
        store.next_deadline().await.unwrap(),
        Some(now + 500),
        "the earliest deadline itself"
    );
    let fired = store.fire_due_deadlines(now + 10_000, 100).await.unwrap();
    assert_eq!(
        (fired.expired, fired.overdue),
        (1, 0),
        "an expired message is final: no overdue receipt"
    );
    assert_eq!(store.get(id).await.unwrap().unwrap().state, State::Expired);
    assert_eq!(store.next_deadline().await.unwrap(), None);
    assert_consistent(&store).await;
}

#[tokio::test]
async fn many_deadlines_fire_in_bounded_rounds() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let now = now_ms();
    let batch: Vec<_> = (0..500)
        .map(|i| {
            let mut m = message(Kind::Otp, None);
            m.send_by = Some(now + 1_000 + i * 37);
            m
        })
        .collect();
    store
        .accept_batch(batch)
        .await
        .into_iter()
        .for_each(|a| assert!(a.is_ok()));
    let mut expired = 0;
    let mut rounds = 0;
    loop {
        let fired = store.fire_due_deadlines(now + 100_000, 64).await.unwrap();
        expired += fired.expired;
        rounds += 1;
        if !fired.more {
            break;
        }
    }
    assert_eq!(expired, 500);
    assert!(rounds > 1);
    assert_eq!(store.counts().in_state(State::Expired), 500);
    assert_consistent(&store).await;
}
