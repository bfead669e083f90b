//! The scheduler's background tasks: the deadline watcher and housekeeping (retention and
//! event trimming). Both stop when the token is cancelled or the store closes.

use crate::message::{Millis, now_ms};
use crate::store::{Store, StoreError};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Deadline entries handled per store call (keeps each atomic write small).
const FIRE_BATCH: usize = 1000;
/// Records looked at per retention call.
const RETENTION_BATCH: usize = 1000;

/// Fires deadlines as they come: `expired` at `send_by`, `receipt_overdue` at `receipt_by`,
/// `unknown` at the final-receipt timeout. Deadlines that passed while the daemon was down
/// fire on the first round. Sleeps until the next deadline, but at most `tick`.
pub async fn run_deadline_watcher(store: Store, tick: Duration, shutdown: CancellationToken) {
    loop {
        let now = now_ms();
        match store.fire_due_deadlines(now, FIRE_BATCH).await {
            Ok(fired) if fired.more => continue,
            Ok(_) => {}
            Err(StoreError::Closed) => return,
            Err(e) => tracing::error!(error = %e, "deadline watcher failed; retrying"),
        }
        let wait = match store.next_deadline().await {
            Ok(Some(next)) if next > now => Duration::from_millis((next - now) as u64).min(tick),
            _ => tick,
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// Every `every`: erases old texts, forgets old messages and trims the event log.
pub async fn run_housekeeping(store: Store, every: Duration, shutdown: CancellationToken) {
    loop {
        if let Err(e) = housekeeping_round(&store, now_ms()).await {
            if matches!(e, StoreError::Closed) {
                return;
            }
            tracing::error!(error = %e, "housekeeping failed; retrying next round");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

async fn housekeeping_round(store: &Store, now: Millis) -> Result<(), StoreError> {
    while store.run_retention(now, RETENTION_BATCH).await?.more {}
    while store.trim_events(now, RETENTION_BATCH).await? == RETENTION_BATCH {}
    Ok(())
}
