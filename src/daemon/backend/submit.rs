//! `submit` and `submit_batch`: a request is checked against the daemon's rules (see
//! [`checks`](super::checks)), room is reserved under the queue depth, then it is stored
//! durably — one flush for a whole batch, each item refused on its own. A request whose
//! reference is already stored is never refused: it gets the first message's id.

use super::GatewayBackend;
use super::errors::{not_accepted, task_failed};
use crate::api::error::ApiError;
use crate::api::protocol::{SubmitOk, SubmitRequest};
use crate::message::{Kind, Millis, NewMessage, now_ms};
use crate::number;
use crate::otp::OtpError;
use crate::store::{Accepted, StoreError};

impl GatewayBackend {
    /// After messages were stored: wake the sending stage and count them.
    pub(super) fn accepted(&self, answers: &[&Accepted], now: Millis) {
        let new = answers.iter().filter(|a| !a.duplicate).count() as u64;
        if new > 0 {
            self.parts.wake.notify_one();
            self.tracker.record_accepted(new, now);
        }
    }

    /// Counts an `otp` against its recipient's rolling-hour limit (shared with `otp_send`):
    /// held until its place in the hour, or refused `rate_limited` when that place comes after
    /// its `send_by`. A retry of a stored reference is not counted again.
    async fn admit_otp(&self, message: &mut NewMessage, now: Millis) -> Result<(), ApiError> {
        if message.kind != Kind::Otp || self.known(message.reference.as_deref()).await.is_some() {
            return Ok(());
        }
        let Some(service) = self.parts.otp.clone() else {
            return Ok(());
        };
        let (to, send_by) = (message.recipient.clone(), message.send_by);
        let admitted = tokio::task::spawn_blocking(move || service.admit(&to, now, send_by))
            .await
            .map_err(task_failed)?;
        match admitted {
            Ok(held_until) => {
                message.extra.held_until = held_until;
                Ok(())
            }
            Err(OtpError::RateLimited { retry_after_s }) => Err(ApiError {
                retry_after_s: Some(retry_after_s),
                ..ApiError::new(
                    crate::api::error::ErrorCode::RateLimited,
                    format!(
                        "this number has had its one-time passwords for the hour ([otp] \
                         max_per_hour); the next could go in {retry_after_s} s, after this \
                         message's send_by, so it was not accepted"
                    ),
                )
            }),
            Err(e) => Err(ApiError::internal(format!(
                "the OTP limit cannot be read: {e}"
            ))),
        }
    }

    /// `submit`.
    pub(super) async fn submit_one(&self, request: SubmitRequest) -> Result<SubmitOk, ApiError> {
        let now = now_ms();
        let reference = request.reference.clone();
        let mut message = match self.check(request, now, "") {
            Ok(message) => message,
            Err(e) => return self.refuse(reference.as_deref(), e).await,
        };
        let room = self.reserve(1);
        if room.granted == 0 {
            return self
                .refuse(reference.as_deref(), self.queue_full(room.depth))
                .await;
        }
        if let Err(e) = self.admit_otp(&mut message, now).await {
            return self.refuse(reference.as_deref(), e).await;
        }
        let (kind, to) = (message.kind, number::mask(&message.recipient));
        let accepted = match self.store().accept(message).await {
            Ok(accepted) => accepted,
            Err(e) => return self.not_stored(reference.as_deref(), &e).await,
        };
        drop(room);
        self.accepted(&[&accepted], now);
        tracing::debug!(id = %accepted.id, %kind, %to, duplicate = accepted.duplicate, "accepted");
        Ok(SubmitOk {
            message_id: accepted.id,
            duplicate: accepted.duplicate,
        })
    }

    /// The answer to a message the store did not take: below the free-space reserve a
    /// retry of an accepted message still gets its id (as with `queue_full`).
    async fn not_stored(
        &self,
        reference: Option<&str>,
        error: &StoreError,
    ) -> Result<SubmitOk, ApiError> {
        match error {
            StoreError::DiskFull { .. } => self.refuse(reference, not_accepted(error)).await,
            _ => Err(not_accepted(error)),
        }
    }

    /// `submit_batch`: every valid item in one durable write.
    pub(super) async fn submit_many(
        &self,
        requests: Vec<SubmitRequest>,
    ) -> Vec<Result<SubmitOk, ApiError>> {
        let now = now_ms();
        let mut results: Vec<Option<Result<SubmitOk, ApiError>>> = vec![None; requests.len()];
        let mut checked = Vec::new();
        for (i, request) in requests.into_iter().enumerate() {
            let reference = request.reference.clone();
            let checked_one = match self.check(request, now, &format!("messages[{i}].")) {
                Ok(mut message) => self.admit_otp(&mut message, now).await.map(|()| message),
                Err(e) => Err(e),
            };
            match checked_one {
                Ok(message) => checked.push((i, message)),
                Err(e) => results[i] = Some(self.refuse(reference.as_deref(), e).await),
            }
        }
        let room = self.reserve(checked.len() as u64);
        let fit = usize::try_from(room.granted).unwrap_or(usize::MAX);
        let overflow = checked.split_off(fit.min(checked.len()));
        let (indexes, messages): (Vec<usize>, Vec<NewMessage>) = checked.into_iter().unzip();
        let references: Vec<Option<String>> =
            messages.iter().map(|m| m.reference.clone()).collect();
        if !messages.is_empty() {
            let answers = self.store().accept_batch(messages).await;
            let stored: Vec<&Accepted> = answers.iter().filter_map(|a| a.as_ref().ok()).collect();
            self.accepted(&stored, now);
            for ((i, answer), reference) in indexes.into_iter().zip(answers).zip(references) {
                results[i] = Some(match answer {
                    Ok(a) => Ok(SubmitOk {
                        message_id: a.id,
                        duplicate: a.duplicate,
                    }),
                    Err(e) => self.not_stored(reference.as_deref(), &e).await,
                });
            }
        }
        drop(room);
        for (i, message) in overflow {
            let full = self.queue_full(self.depth());
            results[i] = Some(self.refuse(message.reference.as_deref(), full).await);
        }
        let accepted = results.iter().filter(|r| matches!(r, Some(Ok(_)))).count();
        tracing::debug!(items = results.len(), accepted, "batch stored");
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(ApiError::internal("the store gave no answer"))))
            .collect()
    }
}
