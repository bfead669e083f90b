//! Receipts on the cluster engine: matched to their part whichever node receives them (the
//! operator ids are in the database), or parked until the submit result that names their id
//! is recorded. The lookups here serve a whole group of changes and receipts at once
//! ([`super::together`]): one statement for all the ids a group names.

use super::by_keys;
use super::life::Staging;
use crate::message::MessageId;
use crate::store::error::StoreError;
use crate::store::layout::codec::{self, PARKED_VERSION, ParkedReceipt};
use std::collections::HashMap;
use tokio_postgres::Transaction;

/// An operator's id of a part: (operator, operator id).
pub type OperatorKey = (String, String);

/// The parts that `keys` name in the database, as committed before this transaction's own
/// changes.
pub async fn read_parts(
    tx: &Transaction<'_>,
    keys: &[OperatorKey],
) -> Result<HashMap<OperatorKey, (MessageId, u32)>, StoreError> {
    let rows = by_keys(
        tx,
        "SELECT o.operator, o.operator_id, o.message_id, o.part
         FROM operator_ids AS o
         JOIN unnest($1::text[], $2::text[]) AS u (operator, operator_id)
           ON o.operator = u.operator AND o.operator_id = u.operator_id",
        keys.iter(),
        "recording receipts: finding their parts",
    )
    .await?;
    Ok(rows
        .iter()
        .map(|row| {
            let part = (
                MessageId(row.get::<_, i64>(2) as u64),
                row.get::<_, i16>(3) as u32,
            );
            ((row.get(0), row.get(1)), part)
        })
        .collect())
}

/// The receipts parked under any of `keys`.
pub async fn read_parked(
    tx: &Transaction<'_>,
    keys: &[OperatorKey],
) -> Result<HashMap<OperatorKey, ParkedReceipt>, StoreError> {
    let rows = by_keys(
        tx,
        "SELECT p.operator, p.operator_id, p.receipt
         FROM parked_receipts AS p
         JOIN unnest($1::text[], $2::text[]) AS u (operator, operator_id)
           ON p.operator = u.operator AND p.operator_id = u.operator_id",
        keys.iter(),
        "changing messages: looking for parked receipts",
    )
    .await?;
    let mut parked = HashMap::new();
    for row in rows {
        let receipt = codec::decode(PARKED_VERSION, row.get(2), "parked receipt")?;
        parked.insert((row.get(0), row.get(1)), receipt);
    }
    Ok(parked)
}

/// The part the first of `candidates` (the canonical form first) names that has one: as the
/// changes staged so far left it, else as the database had it (`known`, see [`read_parts`]).
pub fn part_named(
    staging: &Staging,
    known: &HashMap<OperatorKey, (MessageId, u32)>,
    operator: &str,
    candidates: &[String],
) -> Option<(MessageId, u32)> {
    candidates
        .iter()
        .find_map(|candidate| match staging.operator_id(operator, candidate) {
            Some(staged) => staged,
            None => known
                .get(&(operator.to_owned(), candidate.clone()))
                .copied(),
        })
}
