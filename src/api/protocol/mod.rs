//! The wire format: one JSON object per line each way.
//!
//! A request is `{"id": <any JSON, optional>, "op": "<name>", …fields}`. Its reply echoes the
//! `id` and is either `{"id":…,"ok":true,…payload}` or
//! `{"id":…,"ok":false,"error":{"code":"…","message":"…"}}`. Parsing never panics: every
//! malformed line maps to a precise [`crate::api::ErrorCode`].

mod answers;
mod fields;
mod ops;
mod submit;

pub use answers::{
    Acked, BatchAnswer, BatchItem, EventLine, MessageAnswer, OtpResult, OtpSent, OtpVerdict, Pong,
    StatusAnswer, SubmitOk, Subscribed,
};
pub use ops::{
    AckRequest, MAX_CURSOR_BYTES, MessageRef, OtpSendRequest, OtpVerifyRequest, SubscribeRequest,
};
pub use submit::{Content, Language, MAX_REFERENCE_BYTES, SubmitRequest};

use crate::api::error::{ApiError, ErrorCode};
use fields::Fields;
use serde::Serialize;
use serde_json::Value;

/// Every operation name, as listed in `unknown_op` errors.
pub const OPS: [&str; 10] = [
    "submit",
    "submit_batch",
    "get",
    "cancel",
    "status",
    "subscribe",
    "ack",
    "otp_send",
    "otp_verify",
    "ping",
];

/// A parsed request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// Store one message.
    Submit(SubmitRequest),
    /// Store many messages in one durable write; items that failed to parse carry their error.
    SubmitBatch(Vec<Result<SubmitRequest, ApiError>>),
    /// One message with its history.
    Get(MessageRef),
    /// Cancel a message not yet handed to an operator.
    Cancel(MessageRef),
    /// The daemon's status report.
    Status,
    /// Turn the connection into an event stream.
    Subscribe(SubscribeRequest),
    /// Move a durable cursor forward.
    Ack(AckRequest),
    /// Send a one-time password.
    OtpSend(OtpSendRequest),
    /// Verify a one-time password.
    OtpVerify(OtpVerifyRequest),
    /// Liveness check.
    Ping,
}

/// One request line, parsed: the `id` to echo (if any could be read) and the request or the
/// error to answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedLine {
    /// The request's `id`, echoed in the reply.
    pub id: Option<Value>,
    /// The request, or why it cannot be served.
    pub request: Result<Request, ApiError>,
}

/// Parses one line (without its newline). Invalid UTF-8 is `invalid_json`.
pub fn parse_line(line: &[u8]) -> ParsedLine {
    let value: Value = match serde_json::from_slice(line) {
        Ok(v) => v,
        Err(e) => {
            return ParsedLine {
                id: None,
                request: Err(ApiError::new(
                    ErrorCode::InvalidJson,
                    format!("the line is not valid JSON: {e}"),
                )),
            };
        }
    };
    let Value::Object(mut map) = value else {
        return ParsedLine {
            id: None,
            request: Err(ApiError::new(
                ErrorCode::InvalidRequest,
                r#"a request is a JSON object such as {"op":"status"}"#,
            )),
        };
    };
    let id = map.remove("id");
    let request = match map.remove("op") {
        None => Err(ApiError::missing("op")),
        Some(Value::String(op)) => parse_op(&op, map),
        Some(other) => Err(ApiError::invalid(
            "op",
            format!("expected an operation name, got {other}"),
        )),
    };
    ParsedLine { id, request }
}

/// Parses the fields of operation `op`.
fn parse_op(op: &str, map: serde_json::Map<String, Value>) -> Result<Request, ApiError> {
    if op == "submit" {
        return SubmitRequest::parse(map, "").map(Request::Submit);
    }
    let mut f = Fields::new(map, "");
    let request = match op {
        "submit_batch" => Request::SubmitBatch(parse_batch(&mut f)?),
        "get" => Request::Get(MessageRef::parse(&mut f)?),
        "cancel" => Request::Cancel(MessageRef::parse(&mut f)?),
        "status" => Request::Status,
        "subscribe" => Request::Subscribe(SubscribeRequest::parse(&mut f)?),
        "ack" => Request::Ack(AckRequest::parse(&mut f)?),
        "otp_send" => Request::OtpSend(OtpSendRequest::parse(&mut f)?),
        "otp_verify" => Request::OtpVerify(OtpVerifyRequest::parse(&mut f)?),
        "ping" => Request::Ping,
        _ => {
            return Err(ApiError::field(
                ErrorCode::UnknownOp,
                "op",
                format!("unknown op {op:?}; expected one of {}", OPS.join(", ")),
            ));
        }
    };
    f.finish(op)?;
    Ok(request)
}

/// `messages`: an array of submit objects, each parsed on its own.
fn parse_batch(f: &mut Fields) -> Result<Vec<Result<SubmitRequest, ApiError>>, ApiError> {
    let messages: Vec<Value> = f.require("messages")?;
    Ok(messages
        .into_iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::Object(map) => SubmitRequest::parse(map, &format!("messages[{i}].")),
            other => Err(ApiError::invalid(
                &format!("messages[{i}]"),
                format!("expected a message object, got {other}"),
            )),
        })
        .collect())
}

/// The success envelope around a payload.
#[derive(Serialize)]
struct OkEnvelope<'a, T> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a Value>,
    ok: bool,
    #[serde(flatten)]
    payload: &'a T,
}

/// The error envelope.
#[derive(Serialize)]
struct ErrEnvelope<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a Value>,
    ok: bool,
    error: &'a ApiError,
}

/// One reply line (with its newline) for a successful request.
pub fn ok_line<T: Serialize>(id: Option<&Value>, payload: &T) -> Vec<u8> {
    let envelope = OkEnvelope {
        id,
        ok: true,
        payload,
    };
    match serde_json::to_vec(&envelope) {
        Ok(mut line) => {
            line.push(b'\n');
            line
        }
        Err(e) => error_line(
            id,
            &ApiError::internal(format!("cannot encode the reply: {e}")),
        ),
    }
}

/// One reply line (with its newline) for a refused request.
pub fn error_line(id: Option<&Value>, error: &ApiError) -> Vec<u8> {
    let envelope = ErrEnvelope {
        id,
        ok: false,
        error,
    };
    // An ApiError is strings and numbers only, so encoding it cannot fail.
    let mut line = serde_json::to_vec(&envelope).unwrap_or_default();
    line.push(b'\n');
    line
}

/// The reply line for a request that could not be served.
pub fn reply_line<T: Serialize>(id: Option<&Value>, result: &Result<T, ApiError>) -> Vec<u8> {
    match result {
        Ok(payload) => ok_line(id, payload),
        Err(e) => error_line(id, e),
    }
}

#[cfg(test)]
mod tests;
