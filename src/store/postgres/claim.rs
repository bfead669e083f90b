//! Claiming due messages for a node's sending stage: `queued` → `submitting`, in queue order
//! per lane. Rows another node is claiming at the same moment are skipped, not waited for
//! (`FOR UPDATE SKIP LOCKED`), so a message is handed to one node only; messages found past
//! their `send_by` are expired instead, by the rules every engine shares.

use super::committer::{Committer, begin};
use super::failed;
use super::life::Staging;
use super::prepared::Prepare;
use crate::message::{Message, Millis, State};
use crate::store::error::StoreError;
use crate::store::layout::codec;
use crate::store::rules::{TOO_LATE, transition_off_queue};

/// Claims up to `max` messages of `lane` due by `now` for this node, in one transaction.
pub async fn claim(
    w: &mut Committer,
    lane: u8,
    now: Millis,
    max: usize,
) -> Result<Vec<Message>, StoreError> {
    let tx = begin(&mut w.client, "claiming messages").await?;
    let mut staging = Staging::default();
    let mut claimed = Vec::with_capacity(max);
    // the rows this transaction took (locked; those expired are not written until the end)
    let mut taken: Vec<i64> = Vec::new();
    // a message found past its send_by takes no place: look further until `max` are claimed
    // or the lane has no more due
    while claimed.len() < max {
        let want = max - claimed.len();
        let rows = tx
            .query(
                &tx.prepared(
                    "SELECT record FROM messages
                 WHERE state = 'queued' AND lane = $1 AND next_try <= $2 AND id <> ALL($4)
                 ORDER BY next_try, id
                 LIMIT $3
                 FOR UPDATE SKIP LOCKED",
                )
                .await?,
                &[&i16::from(lane), &now, &(want as i64), &taken],
            )
            .await
            .map_err(|e| failed("claiming messages: finding due messages", e))?;
        let found = rows.len();
        for row in rows {
            let mut message = codec::decode_record(row.get(0))?;
            taken.push(message.id.0 as i64);
            if message.send_by.is_some_and(|s| s <= now) {
                let why = Some(TOO_LATE.into());
                transition_off_queue(&mut staging, &mut message, State::Expired, now, why)?;
            } else {
                message.attempts += 1;
                transition_off_queue(&mut staging, &mut message, State::Submitting, now, None)?;
                claimed.push(message);
            }
        }
        if found < want {
            break;
        }
    }
    let counted = staging.write(&tx, (&w.node, w.writer), now).await?;
    // a commit the lost connection leaves unanswered may have landed: these are undone then
    w.unsure = claimed.iter().map(|m| m.id).collect();
    let committed = tx.commit().await;
    if committed.is_ok() || !w.client.is_closed() {
        w.unsure.clear();
    }
    committed.map_err(|e| failed("claiming messages: committing", e))?;
    w.committed(&counted);
    Ok(claimed)
}
