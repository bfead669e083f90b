//! The maximum queue depth: room is reserved before a message is stored, so concurrent
//! submits cannot overshoot it, and a retry of an accepted message is answered even when full.

use super::GatewayBackend;
use crate::api::error::{ApiError, ErrorCode};
use crate::api::protocol::SubmitOk;
use crate::message::State;

/// Room granted under the maximum queue depth; given back when dropped (the accepted
/// messages are in the store's counts by then).
pub(super) struct Reservation<'a> {
    backend: &'a GatewayBackend,
    /// Messages that may be stored.
    pub(super) granted: u64,
    /// Messages not yet final when the room was granted.
    pub(super) depth: u64,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        let mut pending = self.backend.lock_pending();
        *pending = pending.saturating_sub(self.granted);
    }
}

impl GatewayBackend {
    fn lock_pending(&self) -> std::sync::MutexGuard<'_, u64> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Messages not yet final (queued, submitting, submitted).
    pub(super) fn depth(&self) -> u64 {
        let counts = self.store().counts();
        [State::Queued, State::Submitting, State::Submitted]
            .into_iter()
            .map(|s| counts.in_state(s))
            .sum()
    }

    /// Grants room for up to `wanted` more messages under the maximum queue depth.
    pub(super) fn reserve(&self, wanted: u64) -> Reservation<'_> {
        let mut pending = self.lock_pending();
        let depth = self.depth().saturating_add(*pending);
        let granted = match self.parts.max_queue_depth {
            None => wanted,
            Some(max) => wanted.min(max.saturating_sub(depth)),
        };
        *pending += granted;
        Reservation {
            backend: self,
            granted,
            depth,
        }
    }

    /// The first message's id, as a duplicate, if `reference` is already stored: a retry of
    /// an accepted message gets its id even when it would now be refused.
    pub(super) async fn known(&self, reference: Option<&str>) -> Option<SubmitOk> {
        let first = self.store().get_by_reference(reference?).await.ok()??;
        Some(SubmitOk {
            message_id: first.id,
            duplicate: true,
        })
    }

    /// `error`, unless `reference` is already stored (then the first message's id).
    pub(super) async fn refuse(
        &self,
        reference: Option<&str>,
        error: ApiError,
    ) -> Result<SubmitOk, ApiError> {
        self.known(reference).await.ok_or(error)
    }

    /// `queue_full` at `depth` messages not yet final.
    pub(super) fn queue_full(&self, depth: u64) -> ApiError {
        let max = self.parts.max_queue_depth.unwrap_or(u64::MAX);
        ApiError::new(
            ErrorCode::QueueFull,
            format!(
                "the queue holds {depth} messages not yet final, its configured maximum is \
                 {max}; nothing was stored, try again later"
            ),
        )
    }
}
