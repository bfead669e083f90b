//! Store failures as the socket reports them: `unavailable` with a sentence that says what
//! went wrong (a full or read-only disk is named as such) and that nothing happened.

use crate::api::error::{ApiError, ErrorCode};
use crate::store::StoreError;

/// What went wrong, in words an operator acts on.
fn explain(error: &StoreError) -> String {
    match error {
        StoreError::Closed => "the store is shutting down".to_owned(),
        StoreError::Storage(detail) if detail.contains("No space left") => {
            format!("the disk is full: {detail}")
        }
        StoreError::Storage(detail) if detail.contains("Read-only file system") => {
            format!("the disk is read-only: {detail}")
        }
        other => other.to_string(),
    }
}

/// A submit that could not be stored: nothing was accepted.
pub(super) fn not_accepted(error: &StoreError) -> ApiError {
    tracing::warn!(error = %error, "a message could not be stored");
    ApiError::unavailable(explain(error))
}

/// A change other than a submit (cancel, ack) that could not be stored.
pub(super) fn not_changed(error: &StoreError) -> ApiError {
    tracing::warn!(error = %error, "a change could not be stored");
    ApiError::new(
        ErrorCode::Unavailable,
        format!(
            "the store could not record it ({}), so nothing changed; it is safe to retry",
            explain(error)
        ),
    )
}

/// A read that failed.
pub(super) fn not_read(error: &StoreError) -> ApiError {
    tracing::warn!(error = %error, "the store could not be read");
    ApiError::new(
        ErrorCode::Unavailable,
        format!(
            "the store could not be read ({}); try again",
            explain(error)
        ),
    )
}

/// A blocking task that did not finish (it panicked or the runtime is shutting down).
pub(super) fn task_failed(error: tokio::task::JoinError) -> ApiError {
    ApiError::internal(format!("a background task failed: {error}"))
}
