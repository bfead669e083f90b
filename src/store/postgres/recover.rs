//! Recovery on the cluster engine: the messages a node had claimed and not seen acknowledged
//! (`submitting`) go back to the queue, as after a crash, when that node starts again (or,
//! later, when another node takes over its operators). Parts the operator acknowledged keep
//! their ids; only the others are sent again.

use super::committer::{Committer, begin};
use super::failed;
use super::life::Staging;
use crate::message::{MessageId, Millis, State};
use crate::store::error::StoreError;
use crate::store::layout::codec;
use crate::store::rules::{RESTARTED, transition};

/// Requeues every message this node holds in `submitting`, in one transaction; how many.
pub async fn requeue_in_flight(w: &mut Committer, now: Millis) -> Result<usize, StoreError> {
    let node = w.node.clone();
    requeue_claimed_by(w, &node, None, now).await
}

/// Requeues those of `ids` this node still holds in `submitting`: a claim whose commit went
/// unanswered, which nobody sends; how many.
pub async fn requeue_unsure(
    w: &mut Committer,
    ids: &[MessageId],
    now: Millis,
) -> Result<usize, StoreError> {
    let node = w.node.clone();
    requeue_claimed_by(w, &node, Some(ids), now).await
}

/// Requeues the messages `node` holds in `submitting` (of `ids` only, when given), in one
/// transaction; how many.
pub async fn requeue_claimed_by(
    w: &mut Committer,
    node: &str,
    ids: Option<&[MessageId]>,
    now: Millis,
) -> Result<usize, StoreError> {
    let tx = begin(&mut w.client, "requeuing messages in flight").await?;
    let ids: Option<Vec<i64>> = ids.map(|ids| ids.iter().map(|id| id.0 as i64).collect());
    let rows = tx
        .query(
            "SELECT record FROM messages WHERE state = 'submitting' AND claimed_by = $1
             AND ($2::bigint[] IS NULL OR id = ANY($2))
             FOR UPDATE",
            &[&node, &ids],
        )
        .await
        .map_err(|e| failed("requeuing messages in flight: finding them", e))?;
    let mut staging = Staging::default();
    for row in &rows {
        let mut message = codec::decode_record(row.get(0))?;
        message.next_try = now;
        transition(
            &mut staging,
            &mut message,
            State::Queued,
            now,
            Some(RESTARTED.to_owned()),
        )?;
    }
    let counted = staging.write(&tx, (&w.node, w.writer), now).await?;
    tx.commit()
        .await
        .map_err(|e| failed("requeuing messages in flight: committing", e))?;
    w.committed(&counted);
    Ok(rows.len())
}
