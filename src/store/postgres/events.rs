//! The event log on the cluster engine: read from any node by seq, subscribers' cursors, and
//! the news of new events. Every transaction that appends events notifies `khabar_events`
//! with its last seq; each node listens on a connection of its own, so a subscriber on any
//! node wakes for events written by any other.

use super::connect::{connect_hearing, retry_pause};
use super::failed;
use super::prepared::Prepare;
use crate::store::config::PostgresConfig;
use crate::store::error::StoreError;
use crate::store::event::Event;
use crate::store::event::StoredEvent;
use crate::store::layout::codec;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_postgres::{Client, GenericClient, Notification};

/// The channel new events are announced on.
pub const CHANNEL: &str = "khabar_events";

/// Appends `events` to the log with the next seqs (under the seq row's lock until commit).
/// The last seq given (0 when `events` is empty).
pub async fn append_events(
    tx: &(impl GenericClient + Sync),
    events: &[Event],
) -> Result<u64, StoreError> {
    if events.is_empty() {
        return Ok(0);
    }
    let last: i64 = tx
        .query_one(
            &tx.prepared(
                "UPDATE sequences SET last = last + $1 WHERE name = 'event' RETURNING last",
            )
            .await?,
            &[&(events.len() as i64)],
        )
        .await
        .map_err(|e| failed("numbering events", e))?
        .get(0);
    let first = last - events.len() as i64 + 1;
    let seqs: Vec<i64> = (first..=last).collect();
    let ats: Vec<i64> = events.iter().map(Event::at).collect();
    let bodies = events
        .iter()
        .map(|e| codec::encode(codec::EVENT_VERSION, e))
        .collect::<Result<Vec<_>, _>>()?;
    tx.execute(
&tx.prepared("INSERT INTO events (seq, at, event) SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bytea[])").await?,
        &[&seqs, &ats, &bodies],
    )
    .await
    .map_err(|e| failed("appending events", e))?;
    // delivered to every listening node when this transaction commits
    tx.execute(
        &tx.prepared("SELECT pg_notify($1, $2)").await?,
        &[&CHANNEL, &last.to_string()],
    )
    .await
    .map_err(|e| failed("announcing events", e))?;
    Ok(last as u64)
}

/// Up to `limit` events with a seq greater than `after`, oldest first.
pub async fn read(
    client: &Client,
    after: u64,
    limit: usize,
) -> Result<Vec<StoredEvent>, StoreError> {
    let rows = client
        .query(
            "SELECT seq, event FROM events WHERE seq > $1 ORDER BY seq LIMIT $2",
            &[&(after as i64), &(limit as i64)],
        )
        .await
        .map_err(|e| failed("reading events", e))?;
    rows.iter()
        .map(|row| {
            let seq: i64 = row.get(0);
            let event = codec::decode(codec::EVENT_VERSION, row.get(1), "event")?;
            Ok(StoredEvent {
                seq: seq as u64,
                event,
            })
        })
        .collect()
}

/// The last seq handed out (0 before the first event).
pub async fn last_seq(client: &Client) -> Result<u64, StoreError> {
    let row = client
        .query_one("SELECT last FROM sequences WHERE name = 'event'", &[])
        .await
        .map_err(|e| failed("reading the last event", e))?;
    Ok(row.get::<_, i64>(0) as u64)
}

/// The last seq the named subscriber acknowledged (0 if it never did).
pub async fn cursor(client: &Client, name: &str) -> Result<u64, StoreError> {
    let row = client
        .query_opt("SELECT seq FROM cursors WHERE subscriber = $1", &[&name])
        .await
        .map_err(|e| failed("reading a cursor", e))?;
    Ok(row.map_or(0, |r| r.get::<_, i64>(0) as u64))
}

/// Moves the named subscriber's cursor to `seq` (never back), committed when it returns.
/// Refused past the last event.
pub async fn ack(client: &Client, name: &str, seq: u64) -> Result<(), StoreError> {
    let last = last_seq(client).await?;
    if seq > last {
        return Err(StoreError::Invalid(format!(
            "cursor {name:?} cannot move to event {seq}: the last event is {last}"
        )));
    }
    client
        .execute(
            "INSERT INTO cursors (subscriber, seq) VALUES ($1, $2)
             ON CONFLICT (subscriber) DO UPDATE SET seq = greatest(cursors.seq, excluded.seq)",
            &[&name, &(seq as i64)],
        )
        .await
        .map_err(|e| failed("moving a cursor", e))?;
    Ok(())
}

/// Listens on a connection of its own and keeps `latest` at the highest seq announced, until
/// `stop`'s sender is dropped. A connection lost (the database restarted or failed over) is
/// made again, with pauses between attempts, and `latest` brought up to the last seq then.
/// The first connection's failure is returned.
pub async fn follow(
    config: PostgresConfig,
    latest: Arc<watch::Sender<u64>>,
    mut stop: oneshot::Receiver<()>,
) -> Result<(), StoreError> {
    let (listener, notices) = listen(&config, &latest).await?;
    tokio::spawn(async move {
        // the client keeps the connection (and its LISTEN) open while it is held
        let (mut _listener, mut notices) = (listener, notices);
        loop {
            let notice = tokio::select! {
                notice = notices.recv() => notice,
                // the store was dropped
                _ = &mut stop => return,
            };
            if let Some(notice) = notice {
                if let Ok(seq) = notice.payload().parse::<u64>() {
                    latest.send_if_modified(|seen| raise(seen, seq));
                }
                continue;
            }
            // the connection ended: listen again on a new one
            let mut attempt = 0;
            loop {
                let listened = tokio::select! {
                    listened = listen(&config, &latest) => listened,
                    _ = &mut stop => return,
                };
                match listened {
                    Ok(again) => {
                        tracing::info!(host = %config.host, "listening for events again");
                        (_listener, notices) = again;
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot listen for events; trying again");
                        tokio::time::sleep(retry_pause(attempt)).await;
                        attempt += 1;
                    }
                }
            }
        }
    });
    Ok(())
}

/// Connects, listens on [`CHANNEL`] and raises `latest` to what was written before the
/// `LISTEN` took effect; the client and where its notifications arrive.
async fn listen(
    config: &PostgresConfig,
    latest: &watch::Sender<u64>,
) -> Result<(Client, mpsc::UnboundedReceiver<Notification>), StoreError> {
    let (notices, heard) = mpsc::unbounded_channel();
    let listener = connect_hearing(config, Some(notices)).await?;
    listener
        .batch_execute(&format!("LISTEN {CHANNEL}"))
        .await
        .map_err(|e| failed("listening for events", e))?;
    let start = last_seq(&listener).await?;
    latest.send_if_modified(|seen| raise(seen, start));
    Ok((listener, heard))
}

/// Raises `seen` to `seq`; true when it moved.
fn raise(seen: &mut u64, seq: u64) -> bool {
    let moved = seq > *seen;
    *seen = (*seen).max(seq);
    moved
}
