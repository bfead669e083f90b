//! Closing reply windows that passed unanswered: the request is cancelled (no reply), its
//! follow-up notification is queued, and upstream hears of it.
//!
//! Exactly once, also across crashes and restarts: the follow-up is accepted with the
//! reference `follow-up-<request id>`, and the store answers a repeated reference with the
//! first message; the request leaves the registry only after that. A crash in between shows
//! the request again after the restart, and its follow-up is found, not sent again (its
//! `reply_window_closed` event may then come twice; events are at-least-once anyway).
//! Windows that closed while the daemon was down are handled on the first round.

use super::{OpenRequest, RequestError, RequestRegistry};
use crate::message::{Extra, Kind, MessageId, Millis, NewMessage, State, now_ms};
use crate::number::mask;
use crate::scheduler::Scheduler;
use crate::store::{Event, StoreError};
use crate::templates::{Language, Templates};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// The `reason` upstream sees for a request whose window closed unanswered.
pub const NO_REPLY: &str = "no_reply";
/// The template of the follow-up when the request names no follow-up text.
pub const FOLLOW_UP_TEMPLATE: &str = "request_follow_up";
/// Requests closed per registry call.
const BATCH: usize = 100;
/// How long past a window's end the closer waits, so that a reply that arrived just before
/// the end (and is still being written) answers the request instead of racing the follow-up.
const GRACE_MS: Millis = 1000;
/// The follow-up when neither the request nor the template gives a usable text: the built-in
/// `request_follow_up` needs the service's name, which a request does not keep.
const GENERIC_FOLLOW_UP: &str = "Сұрау салу жойылды: жауап күту мерзімі өтті. \
     Қызметті eGov.kz арқылы алуға болады.";

/// The stage that closes unanswered requests; see the module docs.
pub struct WindowCloser {
    /// The open requests.
    pub registry: Arc<RequestRegistry>,
    /// Accepts the follow-ups (filling in a notification's default deadlines).
    pub scheduler: Arc<Scheduler>,
    /// Renders [`FOLLOW_UP_TEMPLATE`] for requests without a follow-up text.
    pub templates: Arc<Templates>,
    /// The follow-up's language when it comes from the template.
    pub language: Language,
    /// Woken after follow-ups were queued, so the sending stage picks them up at once.
    pub wake: Option<Arc<Notify>>,
    /// Longest pause between rounds.
    pub tick: Duration,
}

/// The reference of request `id`'s follow-up (the store's idempotency key).
pub fn follow_up_reference(id: MessageId) -> String {
    format!("follow-up-{id}")
}

impl WindowCloser {
    /// Closes due windows every `tick` until `shutdown` is cancelled or the store closes.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            match self.round(now_ms()).await {
                Ok(closed) if closed >= BATCH => continue,
                Ok(_) => {}
                Err(RoundError::Store(StoreError::Closed)) => return,
                Err(e) => tracing::error!(error = %e, "closing reply windows failed; retrying"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(self.tick) => {}
            }
        }
    }

    /// Closes up to one batch of requests whose window ended before `now`; returns how many.
    pub async fn round(&self, now: Millis) -> Result<usize, RoundError> {
        let registry = self.registry.clone();
        let cutoff = now.saturating_sub(GRACE_MS);
        let due = tokio::task::spawn_blocking(move || registry.due(cutoff, BATCH))
            .await
            .map_err(|e| RequestError::Storage(format!("registry task failed: {e}")))??;
        let count = due.len();
        let mut queued = false;
        for request in due {
            queued |= self.close_one(request, now).await?;
        }
        if queued && let Some(wake) = &self.wake {
            wake.notify_one();
        }
        Ok(count)
    }

    /// Queues one request's follow-up, tells upstream and forgets the request. Returns whether
    /// a follow-up was queued.
    async fn close_one(&self, request: OpenRequest, now: Millis) -> Result<bool, RoundError> {
        let id = request.id;
        let store = self.scheduler.store();
        let message = store.get(id).await?;
        if let Some(m) = &message
            && matches!(m.state, State::Rejected | State::Failed | State::Cancelled)
        {
            // it never reached the phone: nothing to follow up
            tracing::info!(%id, state = %m.state, "request never reached its recipient; no follow-up");
            self.forget(id).await?;
            return Ok(false);
        }
        let (text, template) = self.follow_up_text(&request);
        let follow_up = NewMessage {
            reference: Some(follow_up_reference(id)),
            kind: Kind::Notification,
            recipient: request.recipient.clone(),
            sender: message.as_ref().and_then(|m| m.sender.clone()),
            text,
            send_by: None,
            receipt_by: None,
            extra: Extra {
                template,
                ..Extra::default()
            },
        };
        let accepted = self.scheduler.accept(follow_up, now).await?;
        if message.is_some() {
            store.close_request(id, "no_reply", now).await?;
        }
        let event = Event::ReplyWindowClosed {
            id,
            reference: message.and_then(|m| m.reference),
            follow_up_id: accepted.id,
            at: now,
        };
        store.append_event(event).await?;
        self.forget(id).await?;
        tracing::info!(
            %id,
            follow_up = %accepted.id,
            to = %mask(&request.recipient),
            again = accepted.duplicate,
            "no reply within the window; request cancelled, follow-up queued"
        );
        Ok(true)
    }

    /// The follow-up's text and the template it came from: the request's own text, else
    /// [`FOLLOW_UP_TEMPLATE`] when it renders without fields, else a generic sentence.
    fn follow_up_text(&self, request: &OpenRequest) -> (String, Option<String>) {
        if let Some(text) = request.follow_up.as_ref().filter(|t| !t.trim().is_empty()) {
            return (text.clone(), None);
        }
        match self
            .templates
            .render(FOLLOW_UP_TEMPLATE, self.language, &BTreeMap::new())
        {
            Ok(text) => (text, Some(FOLLOW_UP_TEMPLATE.to_owned())),
            Err(e) => {
                tracing::debug!(id = %request.id, error = %e, "follow-up template unusable; generic text");
                (GENERIC_FOLLOW_UP.to_owned(), None)
            }
        }
    }

    /// Removes a request from the registry.
    async fn forget(&self, id: MessageId) -> Result<(), RequestError> {
        let registry = self.registry.clone();
        tokio::task::spawn_blocking(move || registry.close(id))
            .await
            .map_err(|e| RequestError::Storage(format!("registry task failed: {e}")))??;
        Ok(())
    }
}

/// Why a closing round stopped.
#[derive(Debug, thiserror::Error)]
pub enum RoundError {
    /// The registry failed.
    #[error(transparent)]
    Registry(#[from] RequestError),
    /// The message store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}
