//! Store failures as the socket reports them: `unavailable` with a sentence that says what
//! went wrong (a full or read-only disk is named as such) and that nothing happened.

use crate::api::error::{ApiError, ErrorCode};
use crate::store::StoreError;

/// What went wrong, in words an operator acts on.
fn explain(error: &StoreError) -> String {
    let (detail, restarting) = match error {
        StoreError::Closed => return "the store is shutting down".to_owned(),
        StoreError::Storage { what: detail, .. } => (detail, false),
        // the store stopped after that failure and the daemon exits to reopen it
        StoreError::Failed(detail) => (detail, true),
        other => return other.to_string(),
    };
    let what = if detail.contains("No space left") {
        "the disk is full"
    } else if detail.contains("Read-only file system") {
        "the disk is read-only"
    } else {
        "storage failure"
    };
    let then = if restarting {
        "; khabar is restarting to recover"
    } else {
        ""
    };
    format!("{what}: {detail}{then}")
}

/// True for failures the store itself logs once (a full disk, a storage failure), so the
/// socket does not log them again for every message.
fn logged_by_store(error: &StoreError) -> bool {
    matches!(
        error,
        StoreError::DiskFull { .. } | StoreError::Storage { .. } | StoreError::Failed(_)
    )
}

/// A submit that could not be stored: nothing was accepted.
pub(super) fn not_accepted(error: &StoreError) -> ApiError {
    if !logged_by_store(error) {
        tracing::warn!(error = %error, "a message could not be stored");
    }
    match error {
        StoreError::DiskFull { .. } => ApiError::new(
            ErrorCode::Unavailable,
            format!("{error}; the message was NOT accepted: retry later with the same reference"),
        ),
        other => ApiError::unavailable(explain(other)),
    }
}

/// A change other than a submit (cancel, ack) that could not be stored.
pub(super) fn not_changed(error: &StoreError) -> ApiError {
    if !logged_by_store(error) {
        tracing::warn!(error = %error, "a change could not be stored");
    }
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
