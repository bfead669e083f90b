//! The daemon's socket backend over a real store, driven through the real socket server:
//! what an upstream system sees when it submits, retries and cancels messages.

mod daemon_backend_support;

use daemon_backend_support::{Gateway, refused, submit, within};
use khabar::api::ErrorCode;
use khabar::api::protocol::MessageRef;
use khabar::encoding::{self, EncodingConfig, EncodingError};
use khabar::message::{Kind, State, now_ms};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_messages_are_on_disk_after_reopening_the_store() {
    let gateway = Gateway::start(None).await;
    let mut client = gateway.client().await;
    let single =
        json!({"to": "87011234567", "text": "Сәлеметсіз бе! Құжат № 12.", "reference": "crm-1"});
    let one = submit(&mut client, single).await.expect("accepted");
    within(gateway.wake.notified()).await;
    let batch = vec![
        json!({"to": "+7 (705) 123-45-67", "text": "бір", "kind": "bulk"}),
        json!({"to": "77771234567", "text": "Иә/Жоқ?", "kind": "request",
               "reply_window": "2h", "follow_up_text": "Мерзім өтті."}),
        json!({"to": "12345", "text": "екі"}),
    ];
    let reply = within(client.submit_batch(batch))
        .await
        .expect("reply")
        .expect("batch");
    assert_eq!((reply.accepted, reply.rejected), (2, 1));
    let bad = reply.results[2].error.clone().expect("an error");
    assert_eq!(bad.code, ErrorCode::InvalidNumber);
    assert_eq!(bad.field.as_deref(), Some("messages[2].to"));
    let ids: Vec<_> = reply.results[..2]
        .iter()
        .map(|r| r.message_id.expect("id"))
        .collect();
    drop(client);

    let (_dir, store) = gateway.reopen().await;
    let normalised = |n: &str| khabar::number::normalize(n).expect("number").to_string();
    let first = store
        .get(one.message_id)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(first.state, State::Queued);
    assert_eq!(first.recipient, normalised("87011234567"));
    assert_eq!(first.text.as_deref(), Some("Сәлеметсіз бе! Құжат № 12."));
    let by_ref = store
        .get_by_reference("crm-1")
        .await
        .expect("read")
        .expect("by reference");
    assert_eq!(by_ref.id, one.message_id);
    let bulk = store.get(ids[0]).await.expect("read").expect("stored");
    assert_eq!(
        (bulk.kind, bulk.recipient),
        (Kind::Bulk, normalised("+77051234567"))
    );
    let request = store.get(ids[1]).await.expect("read").expect("stored");
    assert_eq!(request.kind, Kind::Request);
    assert_eq!(request.extra.reply_window_ms, Some(2 * 3_600_000));
    assert_eq!(
        request.extra.follow_up_text.as_deref(),
        Some("Мерзім өтті.")
    );
    assert_eq!(store.counts().in_state(State::Queued), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_reference_answers_the_first_id_as_a_duplicate() {
    let gateway = Gateway::start(None).await;
    let mut client = gateway.client().await;
    let first = submit(
        &mut client,
        json!({"to": "+77011234567", "text": "first", "reference": "r-1"}),
    )
    .await
    .expect("accepted");
    assert!(!first.duplicate);
    let again = submit(
        &mut client,
        json!({"to": "+77011234567", "text": "second", "reference": "r-1"}),
    )
    .await
    .expect("accepted");
    assert_eq!(
        (again.message_id, again.duplicate),
        (first.message_id, true)
    );
    // a retry is answered with the first id even if it would now be refused
    let late = json!({"to": "+77011234567", "text": "x", "reference": "r-1",
                      "deadline": "2020-01-01T00:00:00+05:00"});
    let late = submit(&mut client, late)
        .await
        .expect("a retry is answered");
    assert_eq!((late.message_id, late.duplicate), (first.message_id, true));

    let batch = vec![
        json!({"to": "+77011234567", "text": "third", "reference": "r-1"}),
        json!({"to": "+77011234567", "text": "new", "reference": "r-2"}),
        json!({"to": "+77011234567", "text": "new again", "reference": "r-2"}),
    ];
    let reply = within(client.submit_batch(batch))
        .await
        .expect("reply")
        .expect("batch");
    assert_eq!((reply.accepted, reply.duplicates), (1, 2));
    assert_eq!(reply.results[0].message_id, Some(first.message_id));
    assert_eq!(reply.results[1].message_id, reply.results[2].message_id);

    let stored = within(client.get(&MessageRef::Reference("r-1".into())))
        .await
        .expect("reply");
    assert_eq!(stored.expect("found").text.as_deref(), Some("first"));
    assert_eq!(gateway.store().counts().total(), 2);
}

/// The shortest Cyrillic text the default encoding refuses as too long.
fn too_long_text() -> String {
    let mut text = String::new();
    loop {
        text.push('ә');
        if let Err(EncodingError::TooManyParts { .. }) =
            encoding::plan(&text, &EncodingConfig::default())
        {
            return text;
        }
    }
}

/// A 12-digit IIN that passes the check (`valid`) or fails it.
fn iin(valid: bool) -> String {
    (0..10u32)
        .map(|last| format!("90010130012{last}"))
        .find(|iin| khabar::iin::validate_iin(iin).is_ok() == valid)
        .expect("one last digit is right and nine are wrong")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_bad_submit_gets_its_error_code_and_field() {
    let gateway = Gateway::start(None).await;
    let mut client = gateway.client().await;
    let to = "+77011234567";
    let cases = [
        (
            json!({"to": "12345", "text": "x"}),
            ErrorCode::InvalidNumber,
            "to",
        ),
        (
            json!({"to": "+7 727 123 45 67", "text": "x"}),
            ErrorCode::InvalidNumber,
            "to",
        ),
        (
            json!({"to": "+77061234567", "text": "x"}),
            ErrorCode::NoRoute,
            "to",
        ),
        (
            json!({"to": to, "text": too_long_text()}),
            ErrorCode::TooManyParts,
            "text",
        ),
        (
            json!({"to": to, "text": "ok 🙂"}),
            ErrorCode::InvalidRequest,
            "text",
        ),
        (
            json!({"to": to, "template": "no_such"}),
            ErrorCode::UnknownTemplate,
            "template",
        ),
        (
            json!({"to": to, "template": "service_result", "fields": {"document_number": "7", "iin": iin(false)}}),
            ErrorCode::InvalidIin,
            "fields.iin",
        ),
        (
            json!({"to": to, "template": "service_result", "fields": {"iin": iin(false)}}),
            ErrorCode::MissingField,
            "fields.document_number",
        ),
        (
            json!({"to": to, "text": "x", "deadline": "2020-01-01T00:00:00+05:00"}),
            ErrorCode::DeadlineInPast,
            "deadline",
        ),
        (
            json!({"to": to, "text": "x", "deadline": "soonish"}),
            ErrorCode::InvalidRequest,
            "deadline",
        ),
        (
            json!({"to": to, "text": "x", "kind": "request", "follow_up_text": too_long_text()}),
            ErrorCode::TooManyParts,
            "follow_up_text",
        ),
    ];
    for (request, code, field) in cases {
        let error = refused(&mut client, request.clone()).await;
        assert_eq!(
            (error.code, error.field.as_deref()),
            (code, Some(field)),
            "{request}"
        );
        assert!(!error.message.is_empty());
    }
    assert_eq!(
        gateway.store().counts().total(),
        0,
        "nothing refused was stored"
    );

    // a valid template and a working-day deadline are accepted
    let fields = json!({"document_number": "KZ-77", "iin": iin(true)});
    let ok = json!({"to": to, "template": "service_result", "fields": fields, "language": "ru", "deadline": "2 working days"});
    let id = submit(&mut client, ok).await.expect("accepted").message_id;
    let stored = gateway
        .store()
        .get(id)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(stored.extra.template.as_deref(), Some("service_result"));
    assert!(stored.text.expect("text").contains("KZ-77"));
    assert!(stored.send_by.expect("send_by") > stored.created);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_refuses_new_messages_but_not_retries() {
    let gateway = Gateway::start(Some(2)).await;
    let mut client = gateway.client().await;
    let message =
        |reference: &str| json!({"to": "+77011234567", "text": "x", "reference": reference});
    let first = submit(&mut client, message("a")).await.expect("accepted");
    submit(&mut client, message("b")).await.expect("accepted");
    assert_eq!(
        refused(&mut client, message("c")).await.code,
        ErrorCode::QueueFull
    );
    let retry = submit(&mut client, message("a"))
        .await
        .expect("a retry is answered");
    assert_eq!(
        (retry.message_id, retry.duplicate),
        (first.message_id, true)
    );
    let batch = within(client.submit_batch(vec![message("d"), message("e")]))
        .await
        .expect("reply");
    let codes: Vec<_> = batch
        .expect("batch")
        .results
        .iter()
        .map(|r| r.error.as_ref().map(|e| e.code))
        .collect();
    assert_eq!(codes, vec![Some(ErrorCode::QueueFull); 2]);

    let cancelled = within(client.cancel(&MessageRef::Id(first.message_id)))
        .await
        .expect("reply");
    assert_eq!(cancelled.expect("cancelled").state, State::Cancelled);
    submit(&mut client, message("c"))
        .await
        .expect("room again after a cancel");
    let status = gateway.status().await;
    assert_eq!((status.queue.depth, status.queue.max_depth), (2, Some(2)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_works_only_while_queued() {
    let gateway = Gateway::start(None).await;
    let mut client = gateway.client().await;
    let queued = submit(
        &mut client,
        json!({"to": "+77011234567", "text": "x", "reference": "c-1"}),
    )
    .await
    .expect("accepted");
    let by_ref = MessageRef::Reference("c-1".into());
    let view = within(client.cancel(&by_ref))
        .await
        .expect("reply")
        .expect("cancelled");
    let states: Vec<State> = view.history.iter().map(|t| t.state).collect();
    assert_eq!(states, vec![State::Queued, State::Cancelled]);
    assert_eq!(view.id, queued.message_id);
    let again = within(client.cancel(&by_ref)).await.expect("reply");
    assert_eq!(again.expect_err("final").code, ErrorCode::NotCancellable);

    let sent = submit(&mut client, json!({"to": "+77011234567", "text": "y"}))
        .await
        .expect("accepted");
    let claimed = gateway
        .scheduler
        .next_due(now_ms())
        .await
        .expect("claim")
        .expect("due");
    assert_eq!(claimed.id, sent.message_id);
    let in_flight = within(client.cancel(&MessageRef::Id(sent.message_id)))
        .await
        .expect("reply");
    assert_eq!(
        in_flight.expect_err("in flight").code,
        ErrorCode::NotCancellable
    );

    let unknown = MessageRef::Reference("never-sent".into());
    let missing = within(client.cancel(&unknown)).await.expect("reply");
    assert_eq!(
        missing.expect_err("unknown").code,
        ErrorCode::UnknownMessage
    );
    let missing = within(client.get(&unknown)).await.expect("reply");
    assert_eq!(
        missing.expect_err("unknown").code,
        ErrorCode::UnknownMessage
    );
}
