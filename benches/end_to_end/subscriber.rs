//! An upstream that follows the daemon's events on a durable cursor and acknowledges them as
//! it goes, as an e-government system subscribed to its messages' outcomes does (scenario E's
//! `--subscribe`): the daemon may then trim what every subscriber has acknowledged.

use khabar::api::client::Client;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio_util::sync::CancellationToken;

/// The cursor's name.
pub const CURSOR: &str = "soak-subscriber";
/// Events read between two acks.
const ACK_EVERY: u64 = 1_000;

/// Follows events from the start of `CURSOR` until `stop`, acknowledging every
/// [`ACK_EVERY`] and the last one read; counts them in `read`. Returns the last seq acked.
pub async fn follow(
    client: Client,
    read: Arc<AtomicU64>,
    stop: CancellationToken,
) -> Result<u64, String> {
    let mut subscription = client
        .subscribe(Some(CURSOR), None)
        .await
        .map_err(|e| format!("subscribe: {e}"))?;
    let mut last = 0;
    let mut unacked = 0;
    loop {
        let event = tokio::select! {
            event = subscription.next_event() => event.map_err(|e| format!("events: {e}"))?,
            _ = stop.cancelled() => break,
        };
        last = event.seq;
        read.fetch_add(1, Ordering::Relaxed);
        unacked += 1;
        if unacked >= ACK_EVERY {
            subscription
                .ack(last)
                .await
                .map_err(|e| format!("ack: {e}"))?;
            unacked = 0;
        }
    }
    if unacked > 0 {
        subscription
            .ack(last)
            .await
            .map_err(|e| format!("ack: {e}"))?;
    }
    subscription
        .finish()
        .await
        .map_err(|e| format!("the last ack: {e}"))?;
    Ok(last)
}
