//! The registry as the daemon's stages use it: async calls that run the registry's blocking,
//! flushing work on tokio's blocking pool. They never fail the stage that calls them: a
//! registry error is logged (numbers masked) and the message or reply goes on without it.

use super::{RequestError, RequestRegistry};
use crate::log_gate::{Repeated, note};
use crate::message::{Kind, Message, MessageId, Millis};
use crate::number::mask;
use crate::replies::{ReplyClass, classify};
use crate::store::Store;
use std::sync::Arc;

const MATCHED: Repeated = Repeated::info("reply to a request");
const UNMATCHED: Repeated = Repeated::info("a reply that matches no open request");

/// The reply window of a request that carries none (the scheduler normally fills it in).
pub const DEFAULT_WINDOW_MS: i64 = 24 * 3600 * 1000;

/// A mobile-originated message as the receipts stage should report it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatchedReply {
    /// The request it answers, if it matched one.
    pub id: Option<MessageId>,
    /// Upstream's reference of that request.
    pub reference: Option<String>,
    /// What the reply means.
    pub class: ReplyClass,
}

/// Runs a registry call on the blocking pool.
async fn blocking<T: Send + 'static>(
    registry: &Arc<RequestRegistry>,
    call: impl FnOnce(&RequestRegistry) -> Result<T, RequestError> + Send + 'static,
) -> Result<T, RequestError> {
    let registry = registry.clone();
    tokio::task::spawn_blocking(move || call(&registry))
        .await
        .map_err(|e| RequestError::Storage(format!("registry task failed: {e}")))?
}

/// The operator accepted message `id` at `at`: if it is a `request`, its reply window opens
/// now. Call it *before* recording the submission in the store, so that once the request shows
/// as submitted its window is durable: neither a quick reply nor a crash in between can miss
/// it (a resubmission after a crash registers again, which keeps the first registration).
/// Other kinds cost one store read (the sending stage calls it for requests only).
pub async fn on_submitted(
    registry: &Arc<RequestRegistry>,
    store: &Store,
    id: MessageId,
    at: Millis,
) {
    let message = match store.get(id).await {
        Ok(Some(message)) if message.kind == Kind::Request => message,
        Ok(_) => return,
        Err(e) => {
            tracing::error!(%id, error = %e, "cannot read a submitted message");
            return;
        }
    };
    let window = message.extra.reply_window_ms.unwrap_or(DEFAULT_WINDOW_MS);
    let recipient = message.recipient.clone();
    let follow_up = message.extra.follow_up_text.clone();
    let registered = blocking(registry, move |r| {
        r.register(id, &recipient, window, follow_up, at)
    })
    .await;
    let to = mask(&message.recipient);
    match registered {
        Ok(true) => tracing::debug!(%id, %to, window_ms = window, "request awaits a reply"),
        Ok(false) => {}
        Err(e) => tracing::error!(%id, %to, error = %e, "cannot open a request's reply window"),
    }
}

/// A part of `message` was delivered at `at` (pass what `Store::record_receipt` returned for
/// a `DELIVRD` receipt): if it is an open request, its window starts again from now. Other
/// kinds cost nothing.
pub async fn on_delivered(registry: &Arc<RequestRegistry>, message: &Message, at: Millis) {
    if message.kind != Kind::Request {
        return;
    }
    let id = message.id;
    match blocking(registry, move |r| r.restart_window(id, at)).await {
        Ok(true) => tracing::debug!(%id, "request delivered; its reply window starts now"),
        Ok(false) => {}
        Err(e) => tracing::error!(%id, error = %e, "cannot restart a request's reply window"),
    }
}

/// A mobile-originated `text` from `from` (E.164 digits) came at `at`: classifies it and
/// matches it to the newest open request for that number, which it answers (one reply closes
/// a request). The request's reference is read from `store`. When the registry fails, the
/// reply goes on unmatched.
pub async fn on_reply(
    registry: &Arc<RequestRegistry>,
    store: &Store,
    from: &str,
    text: &str,
    at: Millis,
) -> MatchedReply {
    let class = classify(text);
    let number = from.to_owned();
    let id = match blocking(registry, move |r| r.match_reply(&number, at)).await {
        Ok(id) => id,
        Err(e) => {
            tracing::error!(from = %mask(from), error = %e, "cannot match a reply to a request");
            None
        }
    };
    // the match is already durable: a failed lookup only leaves the reference out
    let reference = match id {
        Some(id) => match store.get(id).await {
            Ok(message) => message.and_then(|m| m.reference),
            Err(e) => {
                tracing::warn!(%id, error = %e, "cannot read an answered request's reference");
                None
            }
        },
        None => None,
    };
    match id {
        Some(id) => note(
            &MATCHED,
            || tracing::info!(%id, from = %mask(from), ?class, "{}", MATCHED.what),
        ),
        None => note(
            &UNMATCHED,
            || tracing::info!(from = %mask(from), ?class, "{}", UNMATCHED.what),
        ),
    }
    MatchedReply {
        id,
        reference,
        class,
    }
}
