//! Receipts on the cluster engine: matched to their part whichever node receives them (the
//! operator ids are in the database), or parked until the submit result that names their id
//! is recorded (by the rules every engine shares).

use super::committer::{Committer, begin};
use super::failed;
use super::life::{Leftover, Staging};
use super::prepared::Prepare;
use crate::message::{MessageId, Millis};
use crate::store::error::StoreError;
use crate::store::layout::codec::{self, PARKED_VERSION, ParkedReceipt};
use crate::store::reports::ReceiptLanding;
use crate::store::rules;
use tokio_postgres::Transaction;

/// Records `parked` on the part whose operator id is the first of `candidates` found, or
/// parks it under the first candidate (a repeated receipt replaces the one parked).
pub async fn record_or_park(
    w: &mut Committer,
    operator: &str,
    candidates: &[String],
    parked: ParkedReceipt,
) -> Result<ReceiptLanding, StoreError> {
    let tx = begin(&mut w.client, "recording a receipt").await?;
    let (landing, rest) = record_or_park_in(&tx, &w.node, operator, candidates, parked).await?;
    if let Some(rest) = &rest {
        rest.write(&tx, &w.node).await?;
    }
    tx.commit()
        .await
        .map_err(|e| failed("recording a receipt: committing", e))?;
    if let Some(rest) = &rest {
        w.committed(&rest.counts);
    }
    Ok(landing)
}

/// The message whose part one of `candidates` (the canonical form first) names, if any part
/// has that id yet.
pub async fn receipt_message(
    tx: &Transaction<'_>,
    operator: &str,
    candidates: &[String],
) -> Result<Option<MessageId>, StoreError> {
    let row = tx
        .query_opt(
            &tx.prepared(
                "SELECT message_id FROM operator_ids WHERE operator = $1 AND operator_id = ANY($2)
             ORDER BY array_position($2, operator_id) LIMIT 1",
            )
            .await?,
            &[&operator, &candidates],
        )
        .await
        .map_err(|e| failed("recording a receipt: finding the receipt's message", e))?;
    Ok(row.map(|r| MessageId(r.get::<_, i64>(0) as u64)))
}

/// [`record_or_park`] inside `tx` (not committed) on `node`, its events and counters left to
/// write ([`Leftover`]); where it landed. A refusal by the rules comes before anything is written.
pub async fn record_or_park_in(
    tx: &Transaction<'_>,
    node: &str,
    operator: &str,
    candidates: &[String],
    parked: ParkedReceipt,
) -> Result<(ReceiptLanding, Option<Leftover>), StoreError> {
    let first = candidates
        .first()
        .ok_or_else(|| StoreError::Invalid("a receipt without a message id".into()))?;
    let found = tx
        .query_opt(
            &tx.prepared(
                "SELECT o.message_id, o.part, m.record
             FROM operator_ids o JOIN messages m ON m.id = o.message_id
             WHERE o.operator = $1 AND o.operator_id = ANY($2)
             ORDER BY array_position($2, o.operator_id)
             LIMIT 1
             FOR UPDATE OF m",
            )
            .await?,
            &[&operator, &candidates],
        )
        .await
        .map_err(|e| failed("recording a receipt: finding the receipt's message", e))?;
    let mut counted = None;
    let landing = match found {
        Some(row) => {
            let part = row.get::<_, i16>(1) as u32;
            let mut message = codec::decode_record(row.get(2))?;
            let mut staging = Staging::default();
            let at: Millis = parked.at;
            rules::receipt(
                &mut staging,
                &mut message,
                part,
                parked.stat,
                parked.error,
                at,
            )?;
            counted = Some(staging.write_rows(tx, node, at).await?);
            debug_assert_eq!(message.id, MessageId(row.get::<_, i64>(0) as u64));
            ReceiptLanding::Recorded {
                message: Box::new(message),
                part,
            }
        }
        None => {
            tx.execute(
                &tx.prepared(
                    "INSERT INTO parked_receipts (operator, operator_id, parked_at, receipt)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (operator, operator_id)
                 DO UPDATE SET parked_at = excluded.parked_at, receipt = excluded.receipt",
                )
                .await?,
                &[
                    &operator,
                    first,
                    &parked.parked_at,
                    &codec::encode(PARKED_VERSION, &parked)?,
                ],
            )
            .await
            .map_err(|e| failed("recording a receipt: parking it", e))?;
            ReceiptLanding::Parked
        }
    };
    Ok((landing, counted))
}
