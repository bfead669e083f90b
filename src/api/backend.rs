//! What the socket needs from the daemon. The daemon implements [`Backend`] over its store,
//! scheduler and session pool; tests implement it in memory.
//!
//! Methods return `impl Future + Send` so an implementation may simply write `async fn`, and
//! the server stays generic (`Arc<B>`) with no boxing per call.

use crate::api::error::ApiError;
use crate::api::protocol::{
    MessageRef, OtpSendRequest, OtpSent, OtpVerdict, OtpVerifyRequest, SubmitOk, SubmitRequest,
};
use crate::api::views::{EventView, MessageView, StatusReport};
use std::future::Future;
use tokio::sync::watch;

/// The daemon side of the socket API.
pub trait Backend: Send + Sync + 'static {
    /// Stores one message durably, then answers. Must not answer `Ok` before the message is
    /// on disk. A known `reference` answers the first message's id with `duplicate: true`.
    /// Errors: `invalid_number`, `no_route`, `too_many_parts`, `deadline_in_past`,
    /// `unknown_template`, `invalid_iin`, `queue_full`, `unavailable`, …
    fn submit(
        &self,
        request: SubmitRequest,
    ) -> impl Future<Output = Result<SubmitOk, ApiError>> + Send;

    /// Stores many messages in one durable write; one result per request, in order.
    /// Rejecting one item must not affect the others.
    fn submit_batch(
        &self,
        requests: Vec<SubmitRequest>,
    ) -> impl Future<Output = Vec<Result<SubmitOk, ApiError>>> + Send;

    /// One message with its history, or `unknown_message`.
    fn get(
        &self,
        message: MessageRef,
    ) -> impl Future<Output = Result<MessageView, ApiError>> + Send;

    /// Cancels a message not yet handed to an operator and answers it as it now is;
    /// `not_cancellable` once it was submitted or is final, `unknown_message` if unknown.
    fn cancel(
        &self,
        message: MessageRef,
    ) -> impl Future<Output = Result<MessageView, ApiError>> + Send;

    /// The status report (`khabar status`).
    fn status(&self) -> impl Future<Output = Result<StatusReport, ApiError>> + Send;

    /// The last seq acknowledged on the durable cursor `cursor` (0 if it is new).
    fn cursor_position(&self, cursor: String)
    -> impl Future<Output = Result<u64, ApiError>> + Send;

    /// Up to `limit` events with seq greater than `after`, in seq order.
    fn events(
        &self,
        after: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<EventView>, ApiError>> + Send;

    /// Moves the durable cursor `cursor` to `seq` (never backwards), durably.
    fn ack(&self, cursor: String, seq: u64) -> impl Future<Output = Result<(), ApiError>> + Send;

    /// The seq of the newest event, updated whenever events are appended; subscriptions
    /// wait on it for more.
    fn latest_event(&self) -> watch::Receiver<u64>;

    /// Sends a one-time password for a session (`rate_limited` with `retry_after_s` when
    /// the recipient or session asked too often).
    fn otp_send(
        &self,
        request: OtpSendRequest,
    ) -> impl Future<Output = Result<OtpSent, ApiError>> + Send;

    /// Verifies a code for a session.
    fn otp_verify(
        &self,
        request: OtpVerifyRequest,
    ) -> impl Future<Output = Result<OtpVerdict, ApiError>> + Send;
}
