//! Every error code, each produced by a real bad input over the real socket; bad lines never
//! end the connection.

mod api_support;

use api_support::{TestServer, ask, code_of, submit, within};
use khabar::api::client::Answer;
use khabar::api::{ErrorCode, ServerConfig};
use khabar::message::State;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Every code the server can send. The match makes adding a code without a test a compile
/// error here.
const ALL: [ErrorCode; 25] = [
    ErrorCode::InvalidJson,
    ErrorCode::UnknownOp,
    ErrorCode::InvalidRequest,
    ErrorCode::MissingField,
    ErrorCode::LineTooLong,
    ErrorCode::BatchTooLarge,
    ErrorCode::InvalidNumber,
    ErrorCode::NoRoute,
    ErrorCode::EmptyText,
    ErrorCode::TooManyParts,
    ErrorCode::UnknownKind,
    ErrorCode::DeadlineInPast,
    ErrorCode::InvalidIin,
    ErrorCode::UnknownTemplate,
    ErrorCode::QueueFull,
    ErrorCode::RateLimited,
    ErrorCode::UnknownMessage,
    ErrorCode::NotCancellable,
    ErrorCode::Forbidden,
    ErrorCode::TooManyConnections,
    ErrorCode::IdleTimeout,
    ErrorCode::SlowRequest,
    ErrorCode::ShuttingDown,
    ErrorCode::Unavailable,
    ErrorCode::Internal,
];

#[allow(dead_code)]
fn listed(code: ErrorCode) {
    match code {
        ErrorCode::InvalidJson
        | ErrorCode::UnknownOp
        | ErrorCode::InvalidRequest
        | ErrorCode::MissingField
        | ErrorCode::LineTooLong
        | ErrorCode::BatchTooLarge
        | ErrorCode::InvalidNumber
        | ErrorCode::NoRoute
        | ErrorCode::EmptyText
        | ErrorCode::TooManyParts
        | ErrorCode::UnknownKind
        | ErrorCode::DeadlineInPast
        | ErrorCode::InvalidIin
        | ErrorCode::UnknownTemplate
        | ErrorCode::QueueFull
        | ErrorCode::RateLimited
        | ErrorCode::UnknownMessage
        | ErrorCode::NotCancellable
        | ErrorCode::Forbidden
        | ErrorCode::TooManyConnections
        | ErrorCode::IdleTimeout
        | ErrorCode::SlowRequest
        | ErrorCode::ShuttingDown
        | ErrorCode::Unavailable
        | ErrorCode::Internal
        | ErrorCode::Other => {}
    }
}

fn note_code(seen: &mut BTreeSet<String>, code: &str) {
    seen.insert(code.to_string());
}

/// Sends a raw line and reads one reply.
async fn raw(client: &mut khabar::api::Client, line: &[u8]) -> Answer {
    within(client.send_raw(line)).await.expect("send");
    within(client.read_answer()).await.expect("reply")
}

/// Requests whose only fault is their content: (line, expected code, field named if any).
fn bad_requests() -> Vec<(Value, &'static str, Option<&'static str>)> {
    let to = "+77011234567";
    vec![
        (json!({"op": "fly"}), "unknown_op", Some("op")),
        (json!({"id": 1}), "missing_field", Some("op")),
        (
            json!({"op": "submit", "text": "x"}),
            "missing_field",
            Some("to"),
        ),
        (
            json!({"op": "submit", "to": 77011234567i64, "text": "x"}),
            "invalid_request",
            Some("to"),
        ),
        (
            json!({"op": "submit", "to": to, "text": "x", "refrence": "r"}),
            "invalid_request",
            Some("refrence"),
        ),
        (
            json!({"op": "submit", "to": "12345", "text": "x"}),
            "invalid_number",
            None,
        ),
        (
            json!({"op": "submit", "to": "+77991234567", "text": "x"}),
            "no_route",
            None,
        ),
        (
            json!({"op": "submit", "to": to, "text": "   "}),
            "empty_text",
            Some("text"),
        ),
        (
            json!({"op": "submit", "to": to, "text": "ә".repeat(701)}),
            "too_many_parts",
            None,
        ),
        (
            json!({"op": "submit", "to": to, "text": "x", "kind": "spam"}),
            "unknown_kind",
            Some("kind"),
        ),
        (
            json!({"op": "submit", "to": to, "text": "x", "send_by": "2020-01-01T00:00:00+05:00"}),
            "deadline_in_past",
            Some("send_by"),
        ),
        (
            json!({"op": "submit", "to": to, "text": "x", "deadline": "yesterday"}),
            "deadline_in_past",
            None,
        ),
        (
            json!({"op": "submit", "to": to, "template": "greeting", "fields": {"iin": "12"}}),
            "invalid_iin",
            None,
        ),
        (
            json!({"op": "submit", "to": to, "template": "nope"}),
            "unknown_template",
            None,
        ),
        (
            json!({"op": "get", "message_id": "00000000000000ff"}),
            "unknown_message",
            None,
        ),
        (
            json!({"op": "cancel", "reference": "never-sent"}),
            "unknown_message",
            None,
        ),
        (
            json!({"op": "submit_batch", "messages": [{"to": to, "text": "a"}, {"to": to, "text": "b"}, {"to": to, "text": "c"}]}),
            "batch_too_large",
            Some("messages"),
        ),
    ]
}

#[tokio::test]
async fn every_error_code_comes_from_a_real_bad_input() {
    let config = ServerConfig {
        max_line_bytes: 4096,
        max_batch: 2,
        max_connections: 2,
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(config, 3).await;
    let mut client = server.client().await;
    let mut seen = BTreeSet::new();

    // Framing and JSON.
    let reply = raw(&mut client, b"{\"op\": \"submit\", \"to\": \n").await;
    assert_eq!(code_of(&reply), "invalid_json");
    note_code(&mut seen, &code_of(&reply));
    let reply = raw(&mut client, b"{\"op\":\"st\xff\xfeatus\"}\n").await;
    assert_eq!(code_of(&reply), "invalid_json", "invalid UTF-8");
    let mut long = vec![b'x'; 10_000];
    long.push(b'\n');
    let reply = raw(&mut client, &long).await;
    assert_eq!(code_of(&reply), "line_too_long");
    note_code(&mut seen, &code_of(&reply));
    let reply = raw(&mut client, b"[\"op\", \"status\"]\n").await;
    assert_eq!(code_of(&reply), "invalid_request");

    // Content errors, each with its id echoed and its field named.
    for (i, (mut request, want, field)) in bad_requests().into_iter().enumerate() {
        request["id"] = json!(format!("case-{i}"));
        let reply = ask(&mut client, request.clone()).await;
        assert_eq!(code_of(&reply), want, "{request}");
        assert_eq!(reply.id, Some(json!(format!("case-{i}"))));
        let error = reply.result.as_ref().unwrap_err();
        assert!(!error.message.is_empty());
        if let Some(field) = field {
            assert_eq!(error.field.as_deref(), Some(field), "{request}");
        }
        note_code(&mut seen, &code_of(&reply));
    }

    // State-dependent refusals.
    let first = ask(&mut client, submit("one"))
        .await
        .into_payload::<Value>()
        .unwrap()
        .unwrap();
    let id: khabar::message::MessageId = first["message_id"].as_str().unwrap().parse().unwrap();
    server.backend.set_state(id, State::Submitted);
    let reply = ask(
        &mut client,
        json!({"op": "cancel", "message_id": id.to_string()}),
    )
    .await;
    assert_eq!(code_of(&reply), "not_cancellable");
    note_code(&mut seen, &code_of(&reply));
    for text in ["two", "three", "four"] {
        assert!(ask(&mut client, submit(text)).await.result.is_ok());
    }
    let reply = ask(&mut client, submit("five")).await;
    assert_eq!(code_of(&reply), "queue_full");
    note_code(&mut seen, &code_of(&reply));
    let otp = json!({"op": "otp_send", "to": "+77011234567", "session": "s-1"});
    assert!(ask(&mut client, otp.clone()).await.result.is_ok());
    let reply = ask(&mut client, otp).await;
    assert_eq!(code_of(&reply), "rate_limited");
    assert_eq!(reply.result.as_ref().unwrap_err().retry_after_s, Some(30));
    note_code(&mut seen, &code_of(&reply));
    server.backend.store_fails.store(true, Ordering::SeqCst);
    let reply = ask(&mut client, submit("six")).await;
    assert_eq!(code_of(&reply), "unavailable");
    assert!(
        reply
            .result
            .as_ref()
            .unwrap_err()
            .message
            .contains("NOT accepted")
    );
    note_code(&mut seen, &code_of(&reply));
    server.backend.store_fails.store(false, Ordering::SeqCst);
    server.backend.batch_bug.store(true, Ordering::SeqCst);
    let reply = ask(
        &mut client,
        json!({"op": "submit_batch", "messages": [{"to": "12", "text": "x"}]}),
    )
    .await;
    let batch = reply
        .into_payload::<khabar::api::protocol::BatchAnswer>()
        .unwrap()
        .unwrap();
    let error = batch.results[0]
        .error
        .clone()
        .expect("the item has an error");
    assert_eq!(error.code, ErrorCode::Internal);
    note_code(&mut seen, "internal");

    // The same connection still works after all of that.
    assert!(ask(&mut client, json!({"op": "ping"})).await.result.is_ok());

    // Connection-level refusals: over the cap (the first client holds one slot).
    let _second = server.client().await;
    let mut third = server.client().await;
    let reply = within(third.read_answer()).await.expect("refusal line");
    assert_eq!(code_of(&reply), "too_many_connections");
    note_code(&mut seen, &code_of(&reply));
    drop(client);
    drop(_second);
    server.stop().await;

    // forbidden: only a uid that is not ours may connect.
    let me = unsafe { libc::getuid() };
    let config = ServerConfig {
        allowed_uids: vec![me.wrapping_add(1)],
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(config, 10).await;
    let mut client = server.client().await;
    let reply = within(client.read_answer()).await.expect("refusal line");
    assert_eq!(code_of(&reply), "forbidden");
    note_code(&mut seen, &code_of(&reply));
    server.stop().await;

    // idle_timeout: a silent client is told and closed.
    let config = ServerConfig {
        idle_timeout: Duration::from_millis(200),
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(config, 10).await;
    let mut client = server.client().await;
    let reply = within(client.read_answer()).await.expect("farewell line");
    assert_eq!(code_of(&reply), "idle_timeout");
    note_code(&mut seen, &code_of(&reply));
    server.stop().await;

    // slow_request: a line that does not arrive whole in time is refused and closed.
    let config = ServerConfig {
        line_timeout: Duration::from_millis(200),
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(config, 10).await;
    let mut client = server.client().await;
    client.send_raw(b"{\"op\":").await.unwrap();
    let reply = within(client.read_answer()).await.expect("farewell line");
    assert_eq!(code_of(&reply), "slow_request");
    note_code(&mut seen, &code_of(&reply));
    server.stop().await;

    // shutting_down: a connected client hears it when the daemon stops.
    let server = TestServer::start().await;
    let mut client = server.client().await;
    assert!(ask(&mut client, json!({"op": "ping"})).await.result.is_ok());
    server.stop().await;
    let reply = within(client.read_answer()).await.expect("farewell line");
    assert_eq!(code_of(&reply), "shutting_down");
    note_code(&mut seen, &code_of(&reply));

    let all: BTreeSet<String> = ALL.iter().map(|c| c.as_str().to_string()).collect();
    assert_eq!(
        seen,
        all,
        "codes never produced: {:?}",
        all.difference(&seen).collect::<Vec<_>>()
    );
}
