//! Claiming due messages for a node's sending stage: `queued` → `submitting`, in queue order
//! per lane. Rows another node is claiming at the same moment are skipped, not waited for
//! (`FOR UPDATE SKIP LOCKED`), so a message is handed to one node only; messages found past
//! their `send_by` are expired instead (the rules of the sled engine's `writer/claim.rs`).

use super::accept::append_events;
use crate::message::{Message, Millis, State};
use crate::store::error::StoreError;
use crate::store::layout::codec;
use crate::store::rules::{self, TOO_LATE};
use tokio_postgres::Client;

/// Claims up to `max` messages of `lane` due by `now` for `node`, in one transaction.
pub async fn claim(
    client: &mut Client,
    node: &str,
    lane: u8,
    now: Millis,
    max: usize,
) -> Result<Vec<Message>, StoreError> {
    let tx = client
        .transaction()
        .await
        .map_err(|e| failed("starting", e))?;
    let rows = tx
        .query(
            "SELECT record FROM messages
             WHERE state = 'queued' AND lane = $1 AND next_try <= $2
             ORDER BY next_try, id
             LIMIT $3
             FOR UPDATE SKIP LOCKED",
            &[&i16::from(lane), &now, &(max as i64)],
        )
        .await
        .map_err(|e| failed("finding due messages", e))?;
    let mut claimed = Vec::with_capacity(rows.len());
    let mut events = Vec::new();
    let (mut ids, mut states, mut records, mut finished) = (vec![], vec![], vec![], vec![]);
    for row in rows {
        let mut message = codec::decode_record(row.get(0))?;
        let to = if message.send_by.is_some_and(|s| s <= now) {
            events.extend(rules::change_state(
                &mut message,
                State::Expired,
                now,
                Some(TOO_LATE.into()),
            ));
            State::Expired
        } else {
            message.attempts += 1;
            events.extend(rules::change_state(
                &mut message,
                State::Submitting,
                now,
                None,
            ));
            State::Submitting
        };
        ids.push(message.id.0 as i64);
        states.push(to.as_str());
        records.push(codec::encode_record(&message)?);
        finished.push(to.is_final().then_some(now));
        if to == State::Submitting {
            claimed.push(message);
        }
    }
    if !ids.is_empty() {
        tx.execute(
            "UPDATE messages AS m
             SET state = c.state, record = c.record, finished_at = c.finished_at,
                 claimed_by = CASE WHEN c.state = 'submitting' THEN $5 END,
                 deadline = CASE WHEN c.finished_at IS NULL THEN m.deadline END
             FROM unnest($1::bigint[], $2::text[], $3::bytea[], $4::bigint[])
                  AS c (id, state, record, finished_at)
             WHERE m.id = c.id",
            &[&ids, &states, &records, &finished, &node],
        )
        .await
        .map_err(|e| failed("recording the claims", e))?;
    }
    append_events(&tx, &events).await?;
    tx.commit().await.map_err(|e| failed("committing", e))?;
    Ok(claimed)
}

fn failed(what: &str, e: tokio_postgres::Error) -> StoreError {
    StoreError::storage(format!("claiming messages: {what}: {e}"), e)
}
