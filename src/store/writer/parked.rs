//! Receipts that match no message part yet: one that overtook its submit_sm_resp (the result
//! is not recorded yet), or one for an id never stored. The SMSC gets its deliver_sm_resp as
//! soon as the receipt is parked on disk; the receipt waits under `p/` until the submit
//! result lands (applied in that same change), or until the receipts stage drops it after its
//! hold.

use super::thread::Writer;
use crate::message::Millis;
use crate::store::error::StoreError;
use crate::store::layout::codec::{self, PARKED_VERSION, ParkedReceipt};
use crate::store::layout::keys;
use crate::store::reports::{DroppedReceipts, ReceiptLanding};
use crate::store::rules::receipt;

impl Writer {
    /// Records `receipt` on the part whose operator id is the first of `candidates` found,
    /// or parks it under the first candidate.
    pub(super) fn receipt_or_park(
        &mut self,
        operator: &str,
        candidates: &[String],
        parked: ParkedReceipt,
    ) -> Result<ReceiptLanding, StoreError> {
        let mut tx = self.tx();
        for candidate in candidates {
            let key = keys::operator_id(operator, candidate);
            let found = match tx.get(&key)? {
                Some(live) => codec::unpack_part_ref(&live),
                // a receipt for a message that finished and moved (a late or repeated one)
                None => tx.history_operator_key(&key)?,
            };
            let Some((id, part)) = found else {
                continue;
            };
            let mut message = tx.load_for_update(id)?;
            receipt(
                &mut tx,
                &mut message,
                part,
                parked.stat,
                parked.error,
                parked.at,
            )?;
            self.commit(tx);
            return Ok(ReceiptLanding::Recorded {
                message: Box::new(message),
                part,
            });
        }
        let first = candidates
            .first()
            .ok_or_else(|| StoreError::Invalid("a receipt without a message id".into()))?;
        let key = keys::parked(operator, first);
        if tx.get(&key)?.is_none() {
            tx.state.parked += 1;
        }
        // a repeated receipt (the SMSC redelivering) replaces the parked one
        tx.put(key, codec::encode(PARKED_VERSION, &parked)?);
        self.commit(tx);
        Ok(ReceiptLanding::Parked)
    }

    /// Drops up to `limit` receipts parked before `before`.
    pub(super) fn drop_parked(
        &mut self,
        before: Millis,
        limit: usize,
    ) -> Result<DroppedReceipts, StoreError> {
        let mut dropped = DroppedReceipts::default();
        if self.state.parked == 0 {
            return Ok(dropped);
        }
        let mut tx = self.tx();
        let range = keys::PARKED.to_vec()..keys::prefix_end(keys::PARKED);
        let mut n = 0;
        for (key, bytes) in tx.db_range(range, usize::MAX)? {
            let parked: ParkedReceipt = codec::decode(PARKED_VERSION, &bytes, "parked receipt")?;
            if parked.parked_at >= before {
                continue;
            }
            if n == limit {
                dropped.more = true;
                break;
            }
            let operator = keys::parked_operator(&key).unwrap_or_default();
            *dropped.by_operator.entry(operator).or_default() += 1;
            tx.remove(key);
            tx.state.parked = tx.state.parked.saturating_sub(1);
            n += 1;
        }
        self.commit(tx);
        Ok(dropped)
    }
}
