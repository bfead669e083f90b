//! A message's life after acceptance: claim, submit, receipts, retries, deferrals, cancels,
//! restart recovery, and the events and counters that follow it.

mod store_support;

use khabar::message::{Kind, State, now_ms};
use khabar::store::Event;
use store_support::{assert_consistent, message, open};

#[tokio::test]
async fn a_message_goes_from_queued_to_delivered_with_its_whole_story() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let id = store
        .accept(message(Kind::Notification, Some("n-1")))
        .await
        .unwrap()
        .id;
    let now = now_ms();
    let claimed = store
        .claim_next(Kind::Notification, now)
        .await
        .unwrap()
        .expect("due now");
    assert_eq!(
        (claimed.id, claimed.state, claimed.attempts),
        (id, State::Submitting, 1)
    );
    assert_eq!(store.counts().in_state(State::Submitting), 1);
    assert!(
        store
            .claim_next(Kind::Notification, now)
            .await
            .unwrap()
            .is_none()
    );

    let parts = vec!["0A1B".to_owned(), "0A1C".to_owned()];
    store
        .mark_submitted(id, "kcell", parts, None)
        .await
        .unwrap();
    assert_eq!(
        store.find_by_operator_id("kcell", "a1b").await.unwrap(),
        Some((id, 0))
    );
    assert_eq!(
        store.find_by_operator_id("kcell", "0a1c").await.unwrap(),
        Some((id, 1))
    );
    assert_eq!(
        store.find_by_operator_id("beeline", "a1b").await.unwrap(),
        None
    );

    let after_first = store
        .record_receipt(id, 0, "DELIVRD", None, now + 10)
        .await
        .unwrap();
    assert_eq!(
        after_first.state,
        State::Submitted,
        "one part of two is not the whole message"
    );
    let done = store
        .record_receipt(id, 1, "DELIVRD", None, now + 20)
        .await
        .unwrap();
    assert_eq!(done.state, State::Delivered);
    let story: Vec<State> = done.history.iter().map(|t| t.state).collect();
    assert_eq!(
        story,
        vec![
            State::Queued,
            State::Submitting,
            State::Submitted,
            State::Delivered
        ]
    );

    let events: Vec<Event> = store
        .read_events(0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    let kinds: Vec<String> = events
        .iter()
        .map(|e| match e {
            Event::StateChanged { state, .. } => format!("state:{state}"),
            Event::Receipt { stat, part, .. } => format!("receipt:{part}:{stat}"),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "state:submitted",
            "receipt:0:DELIVRD",
            "receipt:1:DELIVRD",
            "state:delivered"
        ]
    );
    assert_eq!(store.counts().in_state(State::Delivered), 1);
    assert_consistent(&store).await;
}

#[tokio::test]
async fn any_failed_part_makes_the_message_undeliverable_and_repeats_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let id = store.accept(message(Kind::Bulk, None)).await.unwrap().id;
    store
        .claim_next(Kind::Bulk, now_ms())
        .await
        .unwrap()
        .unwrap();
    for part in 0..2 {
        let m = store
            .record_part_ack(id, part, 2, "tele2", &format!("t2-{part}"), None)
            .await
            .unwrap();
        let expected = if part == 1 {
            State::Submitted
        } else {
            State::Submitting
        };
        assert_eq!(m.state, expected);
    }
    store
        .record_receipt(id, 0, "UNDELIV", Some("012"), now_ms())
        .await
        .unwrap();
    let events_before = store.read_events(0, 100).await.unwrap().len();
    store
        .record_receipt(id, 0, "UNDELIV", Some("012"), now_ms())
        .await
        .unwrap();
    assert_eq!(
        store.read_events(0, 100).await.unwrap().len(),
        events_before,
        "a repeated receipt adds nothing"
    );
    let m = store
        .record_receipt(id, 1, "DELIVRD", None, now_ms())
        .await
        .unwrap();
    assert_eq!(m.state, State::Undeliverable);
    assert_eq!(
        m.history.last().unwrap().reason.as_deref(),
        Some("receipt UNDELIV err:012")
    );
    assert_consistent(&store).await;
}

#[tokio::test]
async fn cancel_works_only_while_queued() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let a = store.accept(message(Kind::Request, None)).await.unwrap().id;
    let b = store.accept(message(Kind::Request, None)).await.unwrap().id;
    let cancelled = store.cancel(a, "no longer needed").await.unwrap();
    assert_eq!(cancelled.state, State::Cancelled);
    let claimed = store
        .claim_next(Kind::Request, now_ms())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.id, b, "a cancelled message is never claimed");
    assert!(store.cancel(b, "too late").await.is_err());
    assert_eq!(
        store.get(b).await.unwrap().unwrap().state,
        State::Submitting
    );
    assert_consistent(&store).await;
}

#[tokio::test]
async fn a_requeued_message_waits_for_its_due_time_and_keeps_its_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let id = store.accept(message(Kind::Otp, None)).await.unwrap().id;
    let now = now_ms();
    store.claim_next(Kind::Otp, now).await.unwrap().unwrap();
    let m = store
        .requeue(id, now + 5_000, "ESME_RTHROTTLED", now)
        .await
        .unwrap();
    assert_eq!(
        m.history.last().unwrap().reason.as_deref(),
        Some("ESME_RTHROTTLED")
    );
    assert_eq!(
        (m.state, m.attempts, m.next_try),
        (State::Queued, 1, now + 5_000)
    );
    assert_eq!(store.lane_head(Kind::Otp).await.unwrap(), Some(now + 5_000));
    assert!(
        store
            .claim_next(Kind::Otp, now + 4_999)
            .await
            .unwrap()
            .is_none()
    );
    let again = store
        .claim_next(Kind::Otp, now + 5_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((again.id, again.attempts), (id, 2));
    assert_consistent(&store).await;
}

#[tokio::test]
async fn a_deferred_message_does_not_count_the_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let id = store
        .accept(message(Kind::Notification, None))
        .await
        .unwrap()
        .id;
    let now = now_ms();
    store
        .claim_next(Kind::Notification, now)
        .await
        .unwrap()
        .unwrap();
    let m = store.defer(id, now + 1_000, now).await.unwrap();
    assert_eq!((m.state, m.attempts), (State::Queued, 0));
    assert_eq!(
        m.history.len(),
        1,
        "the claim is undone, not a new chapter of the story"
    );
    assert!(
        store
            .claim_next(Kind::Notification, now)
            .await
            .unwrap()
            .is_none()
    );
    let m = store
        .claim_next(Kind::Notification, now + 1_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.attempts, 1);
    assert_consistent(&store).await;
}

#[tokio::test]
async fn restart_requeues_submitting_and_keeps_submitted() {
    let dir = tempfile::tempdir().unwrap();
    let (in_flight, acknowledged, waiting) = {
        let store = open(dir.path()).await;
        let ids: Vec<_> = store
            .accept_batch((0..3).map(|_| message(Kind::Bulk, None)).collect())
            .await
            .into_iter()
            .map(|a| a.unwrap().id)
            .collect();
        let now = now_ms();
        let first = store.claim_next(Kind::Bulk, now).await.unwrap().unwrap().id;
        let second = store.claim_next(Kind::Bulk, now).await.unwrap().unwrap().id;
        store
            .mark_submitted(second, "beeline", vec!["b-1".into()], None)
            .await
            .unwrap();
        store.flush().await.unwrap();
        assert_eq!((first, second), (ids[0], ids[1]));
        (first, second, ids[2])
    };
    let store = open(dir.path()).await;
    assert_eq!(store.recovered_at_open(), 1);
    let m = store.get(in_flight).await.unwrap().unwrap();
    assert_eq!(m.state, State::Queued);
    assert_eq!(
        m.history.last().unwrap().reason.as_deref(),
        Some("restart: no submit_sm_resp seen")
    );
    assert_eq!(
        store.get(acknowledged).await.unwrap().unwrap().state,
        State::Submitted
    );
    assert_eq!(
        store.get(waiting).await.unwrap().unwrap().state,
        State::Queued
    );
    assert_eq!(
        store.find_by_operator_id("beeline", "b-1").await.unwrap(),
        Some((acknowledged, 0))
    );
    let mut claimed = Vec::new();
    while let Some(m) = store.claim_next(Kind::Bulk, now_ms() + 1).await.unwrap() {
        claimed.push(m.id);
    }
    claimed.sort();
    assert_eq!(claimed, vec![in_flight, waiting]);
    assert_consistent(&store).await;
}

#[tokio::test]
async fn a_batch_claimed_together_is_in_flight_until_each_lands() {
    let dir = tempfile::tempdir().unwrap();
    let (flying, landed) = {
        let store = open(dir.path()).await;
        let messages = (0..4).map(|_| message(Kind::Bulk, None)).collect();
        for accepted in store.accept_batch(messages).await {
            accepted.unwrap();
        }
        let claimed: Vec<_> = store
            .claim_batch(Kind::Bulk, now_ms(), 4)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(claimed.len(), 4);
        let (landed, flying) = claimed.split_at(2);
        for (i, id) in landed.iter().enumerate() {
            let op_id = format!("k-{i}");
            store
                .mark_submitted(*id, "kcell", vec![op_id], None)
                .await
                .unwrap();
        }
        store.flush().await.unwrap();
        let listed: Vec<_> = store
            .in_flight(100)
            .await
            .unwrap()
            .iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(listed, flying, "status lists only those still submitting");
        assert_consistent(&store).await;
        (flying.to_vec(), landed.to_vec())
    };
    let store = open(dir.path()).await;
    assert_eq!(store.recovered_at_open(), flying.len());
    for id in &flying {
        assert_eq!(store.get(*id).await.unwrap().unwrap().state, State::Queued);
    }
    for id in &landed {
        assert_eq!(
            store.get(*id).await.unwrap().unwrap().state,
            State::Submitted
        );
    }
    assert!(store.in_flight(100).await.unwrap().is_empty());
    let again = store
        .claim_batch(Kind::Bulk, now_ms() + 1, 10)
        .await
        .unwrap();
    for m in &again {
        store
            .mark_submitted(m.id, "kcell", vec![format!("r-{}", m.id)], None)
            .await
            .unwrap();
    }
    assert_eq!(again.len(), flying.len());
    assert!(
        store.in_flight(100).await.unwrap().is_empty(),
        "every run landed"
    );
    assert_consistent(&store).await;
}

#[tokio::test]
async fn events_wait_for_their_consumer_and_wake_subscribers() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let mut wake = store.subscribe();
    let id = store.accept(message(Kind::Bulk, None)).await.unwrap().id;
    store
        .claim_next(Kind::Bulk, now_ms())
        .await
        .unwrap()
        .unwrap();
    store
        .finish(id, State::Rejected, "ESME_RINVDSTADR", now_ms())
        .await
        .unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(30), wake.changed())
        .await
        .unwrap()
        .unwrap();
    let seq = *wake.borrow();
    let events = store
        .read_events(store.cursor("api").await.unwrap(), 10)
        .await
        .unwrap();
    assert_eq!(events.last().map(|e| e.seq), Some(seq));
    store.ack_cursor("api", seq).await.unwrap();
    let reply = Event::Reply {
        id: Some(id),
        reference: None,
        class: Some(khabar::replies::ReplyClass::Accept),
        from: "77011234567".into(),
        text: "Иә".into(),
        at: now_ms(),
    };
    let reply_seq = store.append_event(reply.clone()).await.unwrap();
    drop(store);
    let store = open(dir.path()).await;
    let pending = store
        .read_events(store.cursor("api").await.unwrap(), 10)
        .await
        .unwrap();
    assert_eq!(
        pending.len(),
        1,
        "after a restart the consumer resumes after its cursor"
    );
    assert_eq!((pending[0].seq, &pending[0].event), (reply_seq, &reply));
    assert!(store.ack_cursor("api", reply_seq + 5).await.is_err());
    assert_consistent(&store).await;
}
