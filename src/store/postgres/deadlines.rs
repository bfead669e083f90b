//! The deadline watcher's write side on the cluster engine: the messages whose `deadline`
//! column has come (each message's next deadline, kept with its record) are locked a batch at
//! a time, skipping those another node is firing or changing, and every deadline of theirs
//! that is due fires by the rules every engine shares.

use super::committer::{Committer, begin};
use super::failed;
use super::life::Staging;
use crate::message::Millis;
use crate::store::error::StoreError;
use crate::store::layout::codec;
use crate::store::reports::Fired;
use crate::store::rules::deadlines;

/// Fires the deadlines due by `now` of up to `limit` messages, in one transaction.
pub async fn fire_due(w: &mut Committer, now: Millis, limit: usize) -> Result<Fired, StoreError> {
    let tx = begin(&mut w.client, "firing deadlines").await?;
    let rows = tx
        .query(
            "SELECT record FROM messages WHERE deadline <= $1
             ORDER BY deadline LIMIT $2 FOR UPDATE SKIP LOCKED",
            &[&now, &(limit as i64)],
        )
        .await
        .map_err(|e| failed("firing deadlines: finding due deadlines", e))?;
    let mut fired = Fired {
        more: rows.len() == limit,
        ..Fired::default()
    };
    let mut staging = Staging::default();
    for row in &rows {
        let mut message = codec::decode_record(row.get(0))?;
        for (when, kind) in deadlines::pending(&message) {
            if when > now {
                break;
            }
            deadlines::fire(&mut staging, &mut message, kind, when, now, &mut fired)?;
        }
    }
    let counted = staging.write(&tx, (&w.node, w.writer), now).await?;
    tx.commit()
        .await
        .map_err(|e| failed("firing deadlines: committing", e))?;
    w.committed(&counted);
    Ok(fired)
}
