//! Retention on the cluster engine: finished messages lose their texts after
//! `erase_texts_after` and are forgotten entirely (record, reference, operator ids) after
//! `forget_after`, oldest first, a batch at a time; nodes doing it at once take different
//! messages (`SKIP LOCKED`).

use super::committer::{Committer, Retention, begin};
use super::counts::Deltas;
use super::failed;
use crate::message::{Kind, Millis, State};
use crate::store::error::StoreError;
use crate::store::layout::codec;
use crate::store::reports::RetentionReport;
use crate::store::rules;

/// One pass over at most `limit` messages for each of erasing and forgetting.
pub async fn run(
    w: &mut Committer,
    retention: Retention,
    now: Millis,
    limit: usize,
) -> Result<RetentionReport, StoreError> {
    let tx = begin(&mut w.client, "retention").await?;
    let rows = tx
        .query(
            "SELECT id, record FROM messages
             WHERE finished_at < $1 AND NOT erased
             ORDER BY finished_at LIMIT $2 FOR UPDATE SKIP LOCKED",
            &[&(now - retention.erase_after_ms), &(limit as i64)],
        )
        .await
        .map_err(|e| failed("retention: finding texts to erase", e))?;
    let (mut ids, mut records) = (Vec::new(), Vec::new());
    let mut erased = 0;
    for row in &rows {
        let mut message = codec::decode_record(row.get(1))?;
        erased += usize::from(rules::erase_texts(&mut message));
        ids.push(row.get::<_, i64>(0));
        records.push(codec::encode_record(&message)?);
    }
    tx.execute(
        "UPDATE messages AS m SET record = c.record, erased = true
         FROM unnest($1::bigint[], $2::bytea[]) AS c (id, record) WHERE m.id = c.id",
        &[&ids, &records],
    )
    .await
    .map_err(|e| failed("retention: erasing texts", e))?;
    let forgotten = tx
        .query(
            "WITH gone AS (
                 DELETE FROM messages WHERE id IN (
                     SELECT id FROM messages WHERE finished_at < $1
                     ORDER BY finished_at LIMIT $2 FOR UPDATE SKIP LOCKED)
                 RETURNING id, kind, state),
             ids AS (DELETE FROM operator_ids WHERE message_id IN (SELECT id FROM gone))
             SELECT kind, state FROM gone",
            &[&(now - retention.forget_after_ms), &(limit as i64)],
        )
        .await
        .map_err(|e| failed("retention: forgetting messages", e))?;
    let mut counted = Deltas::default();
    for row in &forgotten {
        let kind = row
            .get::<_, String>(0)
            .parse::<Kind>()
            .map_err(StoreError::Corrupt)?;
        let state = row
            .get::<_, String>(1)
            .parse::<State>()
            .map_err(StoreError::Corrupt)?;
        counted.remove(kind, state);
    }
    counted.write(&tx, &w.node, w.writer).await?;
    tx.commit()
        .await
        .map_err(|e| failed("retention: committing", e))?;
    w.committed(&counted);
    Ok(RetentionReport {
        texts_erased: erased,
        forgotten: forgotten.len(),
        more: rows.len() == limit || forgotten.len() == limit,
    })
}
