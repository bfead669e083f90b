//! The daemon's socket backend over a real store, driven through the real socket server:
//! what upstream and the people on duty see of a message's life — `get`, the event stream,
//! `status` — and the OTP operations without an OTP service.

mod daemon_backend_support;

use daemon_backend_support::{Gateway, eventually, submit, within};
use khabar::api::ErrorCode;
use khabar::api::protocol::MessageRef;
use khabar::api::views::EventType;
use khabar::message::{Kind, State, now_ms};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_and_events_tell_the_story_of_a_delivered_message() {
    let gateway = Gateway::start(None).await;
    let mut client = gateway.client().await;
    let mut events = gateway
        .client()
        .await
        .subscribe(Some("crm"), None)
        .await
        .expect("subscribe");
    let id = submit(
        &mut client,
        json!({"to": "+77011234567", "text": "x", "reference": "d-1"}),
    )
    .await
    .expect("accepted")
    .message_id;
    let claimed = gateway
        .scheduler
        .next_due(now_ms())
        .await
        .expect("claim")
        .expect("due");
    gateway
        .scheduler
        .submitted(claimed.id, "kcell", vec!["op-1".into()], now_ms())
        .await
        .expect("submitted");
    gateway
        .store()
        .record_receipt(id, 0, "DELIVRD", None, now_ms())
        .await
        .expect("receipt");

    let view = within(client.get(&MessageRef::Id(id)))
        .await
        .expect("reply")
        .expect("found");
    let states: Vec<State> = view.history.iter().map(|t| t.state).collect();
    assert_eq!(
        states,
        vec![
            State::Queued,
            State::Submitting,
            State::Submitted,
            State::Delivered
        ]
    );
    assert_eq!(view.operator.as_deref(), Some("kcell"));
    assert_eq!(view.parts[0].operator_id.as_deref(), Some("op-1"));
    assert_eq!(view.parts[0].receipt.as_deref(), Some("DELIVRD"));

    let mut seen = Vec::new();
    while seen.len() < 3 {
        seen.push(within(events.next_event()).await.expect("event"));
    }
    let kinds: Vec<_> = seen.iter().map(|e| (e.kind, e.state)).collect();
    assert_eq!(
        kinds,
        vec![
            (EventType::StateChanged, Some(State::Submitted)),
            (EventType::Receipt, None),
            (EventType::StateChanged, Some(State::Delivered)),
        ]
    );
    assert!(
        seen.iter()
            .all(|e| e.message_id == Some(id) && e.reference.as_deref() == Some("d-1"))
    );
    assert_eq!(seen[1].part, Some(1));
    events.ack(seen[2].seq).await.expect("ack");
    events.finish().await.expect("ack stored");
    let position = gateway.store().cursor("crm").await.expect("cursor");
    assert_eq!(position, seen[2].seq);

    let status = eventually(|| async {
        let status = gateway.status().await;
        (status.last_minute.delivered == 1).then_some(status)
    })
    .await;
    assert_eq!(
        (status.last_minute.accepted, status.last_minute.submitted),
        (1, 1)
    );
    assert_eq!(status.last_hour.delivered, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_lanes_risks_and_overdue_receipts() {
    let gateway = Gateway::start(None).await;
    let mut client = gateway.client().await;
    let to = "+77011234567";
    let otp = submit(
        &mut client,
        json!({"to": to, "text": "code 1234", "kind": "otp"}),
    )
    .await
    .expect("otp");
    for _ in 0..2 {
        submit(
            &mut client,
            json!({"to": to, "text": "n", "deadline": "1 working day"}),
        )
        .await
        .expect("notification");
    }
    submit(&mut client, json!({"to": to, "text": "b", "kind": "bulk"}))
        .await
        .expect("bulk");
    let claimed = gateway
        .scheduler
        .next_due(now_ms())
        .await
        .expect("claim")
        .expect("due");
    assert_eq!(claimed.id, otp.message_id, "the otp lane goes first");

    let status = gateway.status().await;
    assert_eq!(status.daemon.version, env!("CARGO_PKG_VERSION"));
    assert!(status.operators.is_empty());
    let lane = |kind| status.lanes.iter().find(|l| l.kind == kind).expect("lane");
    assert_eq!((lane(Kind::Otp).queued, lane(Kind::Otp).submitting), (0, 1));
    assert_eq!(lane(Kind::Notification).queued, 2);
    assert_eq!(lane(Kind::Bulk).queued, 1);
    let first_notification = gateway
        .store()
        .queued_head(Kind::Notification, 1)
        .await
        .expect("head");
    assert_eq!(
        lane(Kind::Notification).oldest_queued_at,
        Some(first_notification[0].1.created)
    );
    assert_eq!(status.queue.depth, 4);
    // no operator can send, so every queued message with a send deadline is at risk
    assert_eq!(status.at_risk_count, 2);
    assert!(status.at_risk.iter().all(|m| m.kind == Kind::Notification));

    // the otp goes to an operator, and its receipt deadline passes without a receipt
    let now = now_ms();
    gateway
        .scheduler
        .submitted(otp.message_id, "kcell", vec!["o-9".into()], now)
        .await
        .expect("submitted");
    gateway
        .store()
        .fire_due_deadlines(now + 3_600_000, 1000)
        .await
        .expect("deadlines");
    let status = eventually(|| async {
        let status = gateway.status().await;
        (status.receipts_overdue == 1).then_some(status)
    })
    .await;
    assert_eq!(status.overdue[0].message_id, otp.message_id);
    assert_eq!(status.overdue[0].operator.as_deref(), Some("kcell"));
    let lane = |kind| {
        status
            .lanes
            .iter()
            .find(|l| l.kind == kind)
            .expect("lane")
            .clone()
    };
    assert_eq!(
        (lane(Kind::Otp).submitting, lane(Kind::Otp).submitted),
        (0, 1)
    );
    // the notifications' send_by is at the end of a working day, more than an hour away
    assert_eq!(lane(Kind::Notification).queued, 2);

    gateway
        .store()
        .record_receipt(otp.message_id, 0, "DELIVRD", None, now_ms())
        .await
        .expect("receipt");
    eventually(|| async { (gateway.status().await.receipts_overdue == 0).then_some(()) }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otp_without_the_service_is_unavailable() {
    let gateway = Gateway::start(None).await;
    let mut client = gateway.client().await;
    let reply =
        within(client.request(json!({"op": "otp_send", "to": "+77011234567", "session": "s-1"})))
            .await
            .expect("reply");
    assert_eq!(
        reply.result.expect_err("no service").code,
        ErrorCode::Unavailable
    );
    let reply =
        within(client.request(json!({"op": "otp_verify", "session": "s-1", "code": "123456"})))
            .await
            .expect("reply");
    assert_eq!(
        reply.result.expect_err("no service").code,
        ErrorCode::Unavailable
    );
}
