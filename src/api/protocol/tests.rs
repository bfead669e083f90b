//! Parsing: every malformed shape maps to a precise code, never a panic.

use super::*;
use crate::message::Kind;
use proptest::prelude::*;
use serde_json::json;

fn parse(line: &str) -> ParsedLine {
    parse_line(line.as_bytes())
}

fn code(line: &str) -> (ErrorCode, Option<String>) {
    let e = parse(line).request.expect_err(line);
    (e.code, e.field)
}

#[test]
fn the_id_is_kept_whatever_its_type() {
    for id in [json!(7), json!("a-1"), json!({"k": [1, 2]}), json!(null)] {
        let line = json!({"id": id, "op": "status"}).to_string();
        let parsed = parse(&line);
        assert_eq!(parsed.id, Some(id));
        assert_eq!(parsed.request, Ok(Request::Status));
    }
}

#[test]
fn json_op_and_shape_errors_are_told_apart() {
    assert_eq!(code("{\"op\":").0, ErrorCode::InvalidJson);
    assert_eq!(
        parse_line(b"{\"op\":\"st\xffatus\"}")
            .request
            .unwrap_err()
            .code,
        ErrorCode::InvalidJson
    );
    assert_eq!(code("[1,2]").0, ErrorCode::InvalidRequest);
    assert_eq!(
        code("{\"id\":1}"),
        (ErrorCode::MissingField, Some("op".into()))
    );
    assert_eq!(
        code("{\"op\":5}"),
        (ErrorCode::InvalidRequest, Some("op".into()))
    );
    assert_eq!(
        code("{\"op\":\"fly\"}"),
        (ErrorCode::UnknownOp, Some("op".into()))
    );
    assert_eq!(
        code("{\"op\":\"status\",\"verbose\":true}"),
        (ErrorCode::InvalidRequest, Some("verbose".into()))
    );
}

#[test]
fn submit_fields_are_checked_and_named() {
    let ok = parse(r#"{"op":"submit","to":"+77011234567","text":"Сәлем"}"#).request;
    assert_eq!(
        ok,
        Ok(Request::Submit(SubmitRequest::text(
            "+77011234567",
            "Сәлем",
            Kind::Notification
        )))
    );
    let cases = [
        (
            r#"{"op":"submit","text":"x"}"#,
            ErrorCode::MissingField,
            "to",
        ),
        (
            r#"{"op":"submit","to":77011234567,"text":"x"}"#,
            ErrorCode::InvalidRequest,
            "to",
        ),
        (
            r#"{"op":"submit","to":" ","text":"x"}"#,
            ErrorCode::InvalidNumber,
            "to",
        ),
        (
            r#"{"op":"submit","to":"77011234567"}"#,
            ErrorCode::MissingField,
            "text",
        ),
        (
            r#"{"op":"submit","to":"77011234567","text":"  "}"#,
            ErrorCode::EmptyText,
            "text",
        ),
        (
            r#"{"op":"submit","to":"77011234567","text":"x","kind":"spam"}"#,
            ErrorCode::UnknownKind,
            "kind",
        ),
        (
            r#"{"op":"submit","to":"77011234567","text":"x","refrence":"r"}"#,
            ErrorCode::InvalidRequest,
            "refrence",
        ),
        (
            r#"{"op":"submit","to":"77011234567","text":"x","send_by":"2001-01-01T00:00:00Z"}"#,
            ErrorCode::DeadlineInPast,
            "send_by",
        ),
        (
            r#"{"op":"submit","to":"77011234567","text":"x","send_by":"soon"}"#,
            ErrorCode::InvalidRequest,
            "send_by",
        ),
        (
            r#"{"op":"submit","to":"77011234567","text":"x","reply_window":"24h"}"#,
            ErrorCode::InvalidRequest,
            "reply_window",
        ),
        (
            r#"{"op":"submit","to":"77011234567","text":"x","template":"t"}"#,
            ErrorCode::InvalidRequest,
            "template",
        ),
        (
            r#"{"op":"submit","to":"77011234567","template":"t","fields":{"a":[1]}}"#,
            ErrorCode::InvalidRequest,
            "fields.a",
        ),
        (
            r#"{"op":"submit","to":"77011234567","template":"t","language":"en"}"#,
            ErrorCode::InvalidRequest,
            "language",
        ),
    ];
    for (line, want, field) in cases {
        assert_eq!(code(line), (want, Some(field.to_string())), "{line}");
    }
}

#[test]
fn a_request_with_template_and_window_parses_fully() {
    let line = r#"{"op":"submit","to":"87011234567","kind":"request","template":"housing",
        "fields":{"reason":"очередь","number":42},"language":"kk","reply_window":"24h",
        "follow_up_text":"Мерзімі өтті","deadline":"2 working days","reference":"crm-1"}"#
        .replace('\n', "");
    let Ok(Request::Submit(r)) = parse(&line).request else {
        panic!("{line}");
    };
    assert_eq!(r.kind, Kind::Request);
    assert_eq!(r.reply_window, Some(std::time::Duration::from_secs(86_400)));
    assert_eq!(r.deadline.as_deref(), Some("2 working days"));
    let Content::Template {
        name,
        fields,
        language,
    } = r.content
    else {
        panic!("not a template");
    };
    assert_eq!(name, "housing");
    assert_eq!(fields["number"], "42");
    assert_eq!(language, Some(Language::Kk));
}

#[test]
fn batch_items_fail_alone_with_their_index() {
    let line = r#"{"op":"submit_batch","messages":[{"to":"77011234567","text":"a"},{"to":"77011234567"},7]}"#;
    let Ok(Request::SubmitBatch(items)) = parse(line).request else {
        panic!("{line}");
    };
    assert!(items[0].is_ok());
    assert_eq!(
        items[1].as_ref().unwrap_err().field.as_deref(),
        Some("messages[1].text")
    );
    assert_eq!(
        items[2].as_ref().unwrap_err().field.as_deref(),
        Some("messages[2]")
    );
    assert_eq!(code(r#"{"op":"submit_batch"}"#).0, ErrorCode::MissingField);
}

#[test]
fn lookups_cursors_and_otp_parse() {
    assert_eq!(
        parse(r#"{"op":"get","message_id":"00000000000000ff"}"#).request,
        Ok(Request::Get(MessageRef::Id(crate::message::MessageId(255))))
    );
    assert_eq!(
        code(r#"{"op":"get","message_id":"xyz"}"#).0,
        ErrorCode::InvalidRequest
    );
    assert_eq!(code(r#"{"op":"cancel"}"#).0, ErrorCode::MissingField);
    assert_eq!(
        code(r#"{"op":"ack","cursor":"crm"}"#),
        (ErrorCode::MissingField, Some("seq".into()))
    );
    assert_eq!(
        code(r#"{"op":"subscribe","cursor":"a b"}"#).0,
        ErrorCode::InvalidRequest
    );
    assert_eq!(
        code(r#"{"op":"otp_verify","session":"s","code":123}"#).0,
        ErrorCode::InvalidRequest
    );
    assert!(matches!(
        parse(r#"{"op":"otp_send","to":"77011234567","session":"s","ttl":300}"#).request,
        Ok(Request::OtpSend(OtpSendRequest { ttl: Some(t), .. })) if t.as_secs() == 300
    ));
}

#[test]
fn replies_echo_the_id_and_put_ok_first() {
    let line = ok_line(
        Some(&json!(3)),
        &Pong {
            version: "1".into(),
        },
    );
    assert_eq!(line, b"{\"id\":3,\"ok\":true,\"version\":\"1\"}\n");
    let line = error_line(None, &ApiError::missing("to"));
    let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
    assert_eq!(v["ok"], json!(false));
    assert_eq!(v["error"]["code"], json!("missing_field"));
    assert!(v.get("id").is_none());
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse_line(&bytes);
    }

    #[test]
    fn arbitrary_json_objects_never_panic(
        op in prop_oneof![
            Just("submit".to_string()),
            Just("submit_batch".to_string()),
            Just("get".to_string()),
            Just("ack".to_string()),
            Just("otp_send".to_string()),
            ".*",
        ],
        key in "[a-z_]{1,12}",
        value in prop_oneof![Just(json!(null)), Just(json!(1)), Just(json!("x")), Just(json!([])), Just(json!({}))],
    ) {
        let line = json!({"op": op, key: value}).to_string();
        let _ = parse(&line);
    }
}
