//! Turns one parsed request into the future of its reply, calling the backend.

use super::Shared;
use crate::api::backend::Backend;
use crate::api::error::{ApiError, ErrorCode};
use crate::api::protocol::{
    Acked, BatchAnswer, MessageAnswer, ParsedLine, Pong, Request, StatusAnswer, SubmitOk,
    SubmitRequest, SubscribeRequest, Subscribed, error_line, ok_line, reply_line,
};
use futures::future::BoxFuture;
use serde_json::Value;
use std::sync::Arc;

/// What a finished request sends back.
pub(crate) enum Outgoing {
    /// One reply line.
    Line(Vec<u8>),
    /// The `subscribe` reply; after it is written, stream events with seq > `after`.
    Subscribe {
        /// The reply line.
        line: Vec<u8>,
        /// The last seq the client will not get.
        after: u64,
    },
    /// A `subscribe` that failed: its error line; the connection may subscribe again.
    SubscribeFailed(Vec<u8>),
}

/// A reply that is ready now (parse errors, over-long lines).
pub(crate) fn ready_error(id: Option<&Value>, error: ApiError) -> BoxFuture<'static, Outgoing> {
    let line = error_line(id, &error);
    Box::pin(async move { Outgoing::Line(line) })
}

/// The future of the reply to `parsed`.
pub(crate) fn dispatch<B: Backend>(
    shared: &Arc<Shared<B>>,
    parsed: ParsedLine,
) -> BoxFuture<'static, Outgoing> {
    let ParsedLine { id, request } = parsed;
    let request = match request {
        Ok(r) => r,
        Err(e) => return ready_error(id.as_ref(), e),
    };
    let backend = Arc::clone(&shared.backend);
    let max_batch = shared.config.max_batch;
    Box::pin(async move {
        let id = id.as_ref();
        let line = match request {
            Request::Submit(r) => reply_line(id, &backend.submit(r).await),
            Request::SubmitBatch(items) if items.len() > max_batch => error_line(
                id,
                &ApiError::field(
                    ErrorCode::BatchTooLarge,
                    "messages",
                    format!(
                        "{} messages in one batch; the limit is {max_batch}",
                        items.len()
                    ),
                ),
            ),
            Request::SubmitBatch(items) => ok_line(id, &submit_batch(&*backend, items).await),
            Request::Get(m) => reply_line(id, &backend.get(m).await.map(message_reply)),
            Request::Cancel(m) => reply_line(id, &backend.cancel(m).await.map(message_reply)),
            Request::Status => reply_line(
                id,
                &backend.status().await.map(|status| StatusAnswer { status }),
            ),
            Request::Subscribe(s) => return subscribe(&*backend, id, s).await,
            Request::Ack(a) => {
                let cursor = a.cursor.clone();
                let result = backend.ack(a.cursor, a.seq).await;
                reply_line(id, &result.map(|()| Acked { cursor, seq: a.seq }))
            }
            Request::OtpSend(r) => reply_line(id, &backend.otp_send(r).await),
            Request::OtpVerify(r) => reply_line(id, &backend.otp_verify(r).await),
            Request::Ping => ok_line(
                id,
                &Pong {
                    version: env!("CARGO_PKG_VERSION").to_string(),
                },
            ),
        };
        Outgoing::Line(line)
    })
}

fn message_reply(message: crate::api::views::MessageView) -> MessageAnswer {
    MessageAnswer { message }
}

/// Sends the well-formed items to the backend in one call and merges the answers back with
/// the items that failed to parse, in the original order.
async fn submit_batch<B: Backend>(
    backend: &B,
    items: Vec<Result<SubmitRequest, ApiError>>,
) -> BatchAnswer {
    let mut results: Vec<Option<Result<SubmitOk, ApiError>>> = Vec::with_capacity(items.len());
    let mut valid = Vec::new();
    let mut slots = Vec::new();
    for item in items {
        match item {
            Ok(request) => {
                slots.push(results.len());
                results.push(None);
                valid.push(request);
            }
            Err(e) => results.push(Some(Err(e))),
        }
    }
    if !valid.is_empty() {
        let answers = backend.submit_batch(valid).await;
        for (slot, answer) in slots.iter().zip(answers) {
            results[*slot] = Some(answer);
        }
    }
    BatchAnswer::from_results(
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(ApiError::internal("the backend skipped this item"))))
            .collect(),
    )
}

/// Finds where the stream starts: `from`, else after the cursor's last ack, else after the
/// newest event (a live tail).
async fn subscribe<B: Backend>(
    backend: &B,
    id: Option<&Value>,
    request: SubscribeRequest,
) -> Outgoing {
    let after = match (request.from, &request.cursor) {
        (Some(from), _) => Ok(from.saturating_sub(1)),
        (None, Some(cursor)) => backend.cursor_position(cursor.clone()).await,
        (None, None) => Ok(*backend.latest_event().borrow()),
    };
    match after {
        Ok(after) => Outgoing::Subscribe {
            line: ok_line(
                id,
                &Subscribed {
                    cursor: request.cursor,
                    from: after + 1,
                },
            ),
            after,
        },
        Err(e) => Outgoing::SubscribeFailed(error_line(id, &e)),
    }
}
