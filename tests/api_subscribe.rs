//! Event subscriptions: durable cursors, acks on the same connection, resuming after a
//! reconnect without gaps or repeats.

mod api_support;

use api_support::{TestServer, ask, code_of, within};
use khabar::api::client::Subscription;
use khabar::message::State;
use serde_json::json;

/// Reads `n` events and returns their seqs, checking they strictly increase.
async fn take(sub: &mut Subscription, n: usize) -> Vec<u64> {
    let mut seqs = Vec::new();
    for _ in 0..n {
        let event = within(sub.next_event()).await.expect("event");
        if let Some(last) = seqs.last() {
            assert!(event.seq > *last, "{} after {last}", event.seq);
        }
        seqs.push(event.seq);
    }
    seqs
}

fn push(server: &TestServer, n: usize) {
    for _ in 0..n {
        server.backend.push_event(None, State::Delivered);
    }
}

#[tokio::test]
async fn a_reconnecting_subscriber_resumes_after_its_last_ack() {
    let server = TestServer::start().await;
    push(&server, 10);
    let mut processed: Vec<u64> = Vec::new();

    // First connection: process and ack 1..=5, see 6 and 7 but crash before acking them.
    let mut sub = server
        .client()
        .await
        .subscribe(Some("crm"), None)
        .await
        .unwrap();
    assert_eq!(sub.from, 1);
    let seqs = take(&mut sub, 5).await;
    assert_eq!(seqs, (1..=5).collect::<Vec<_>>());
    processed.extend(&seqs);
    sub.ack(5).await.unwrap();
    take(&mut sub, 2).await;
    within(sub.finish()).await.unwrap();
    assert_eq!(server.backend.cursor("crm"), 5);

    // Second connection: resumes at 6 (6 and 7 again: they were never acknowledged), then
    // gets events appended while it is connected.
    let mut sub = server
        .client()
        .await
        .subscribe(Some("crm"), None)
        .await
        .unwrap();
    assert_eq!(sub.from, 6);
    let old = take(&mut sub, 5).await;
    assert_eq!(old, (6..=10).collect::<Vec<_>>());
    push(&server, 5);
    let live = take(&mut sub, 5).await;
    assert_eq!(live, (11..=15).collect::<Vec<_>>());
    for seq in old.iter().chain(&live) {
        processed.push(*seq);
        sub.ack(*seq).await.unwrap();
    }
    within(sub.finish()).await.unwrap();

    // Third connection: nothing old is repeated; the next new event comes.
    let mut sub = server
        .client()
        .await
        .subscribe(Some("crm"), None)
        .await
        .unwrap();
    assert_eq!(sub.from, 16);
    push(&server, 1);
    processed.extend(take(&mut sub, 1).await);

    assert_eq!(
        processed,
        (1..=16).collect::<Vec<_>>(),
        "no gaps, no repeats"
    );
}

#[tokio::test]
async fn cursors_are_independent_and_from_overrides_the_cursor() {
    let server = TestServer::start().await;
    push(&server, 6);
    let mut crm = server
        .client()
        .await
        .subscribe(Some("crm"), None)
        .await
        .unwrap();
    take(&mut crm, 6).await;
    crm.ack(6).await.unwrap();
    within(crm.finish()).await.unwrap();
    // Another cursor starts from the beginning.
    let mut audit = server
        .client()
        .await
        .subscribe(Some("audit"), None)
        .await
        .unwrap();
    assert_eq!(take(&mut audit, 1).await, vec![1]);
    // An explicit `from` replays from that seq.
    let mut replay = server
        .client()
        .await
        .subscribe(Some("crm"), Some(3))
        .await
        .unwrap();
    assert_eq!(take(&mut replay, 4).await, vec![3, 4, 5, 6]);
}

#[tokio::test]
async fn a_tail_without_cursor_sees_only_new_events() {
    let server = TestServer::start().await;
    push(&server, 3);
    let mut tail = server.client().await.subscribe(None, None).await.unwrap();
    assert_eq!(tail.from, 4);
    push(&server, 2);
    assert_eq!(take(&mut tail, 2).await, vec![4, 5]);
    assert!(tail.ack(5).await.is_err(), "a tail has no cursor to ack");
}

#[tokio::test]
async fn ack_moves_a_cursor_from_any_connection_and_second_subscribe_is_refused() {
    let server = TestServer::start().await;
    push(&server, 4);
    let mut plain = server.client().await;
    let reply = ask(&mut plain, json!({"op": "ack", "cursor": "crm", "seq": 2})).await;
    assert_eq!(reply.result.unwrap()["seq"], json!(2));
    let reply = ask(&mut plain, json!({"op": "subscribe", "cursor": "crm"})).await;
    assert_eq!(reply.result.unwrap()["from"], json!(3));
    // The connection now streams; a second subscribe on it is refused in order.
    within(plain.send_raw(b"{\"op\":\"subscribe\",\"cursor\":\"x\",\"id\":9}\n"))
        .await
        .unwrap();
    let mut lines = Vec::new();
    while lines.len() < 3 {
        lines.push(within(plain.read_line()).await.unwrap());
    }
    let refusal = lines
        .iter()
        .find(|l| l.contains("\"id\":9"))
        .expect("a reply to the second subscribe");
    let reply = khabar::api::client::Answer::parse(refusal).unwrap();
    assert_eq!(code_of(&reply), "invalid_request");
    assert!(lines.iter().any(|l| l.starts_with("{\"event\":{\"seq\":3")));
}
