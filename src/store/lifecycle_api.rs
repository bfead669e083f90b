//! The store's changes to one message after acceptance, in the words of the stages that make
//! them (the scheduler, the sending stage, the receipts stage): each is one [`Change`], applied
//! by whichever engine keeps the store, durable when it returns.

use crate::message::{Kind, Message, MessageId, Millis, State, now_ms};
use crate::store::error::StoreError;
use crate::store::handle::Store;
use crate::store::rules::Change;

impl Store {
    /// Cancels a message that is still queued (upstream asked). Fails once it is in flight.
    pub async fn cancel(&self, id: MessageId, reason: &str) -> Result<Message, StoreError> {
        self.change(
            id,
            Change::Cancel {
                reason: reason.to_owned(),
            },
            now_ms(),
        )
        .await
    }

    /// Claims the first message of `kind`'s lane due by `now`: it becomes `submitting` (an
    /// attempt is counted) and is returned to be sent. Messages found past their `send_by`
    /// are expired on the way, never returned. None when nothing in the lane is due.
    pub async fn claim_next(&self, kind: Kind, now: Millis) -> Result<Option<Message>, StoreError> {
        Ok(self.claim_batch(kind, now, 1).await?.pop())
    }

    /// Records that the operator acknowledged every part (`submitting` → `submitted`), with
    /// the operator's message id of each part, and arms the final-receipt timeout.
    pub async fn mark_submitted(
        &self,
        id: MessageId,
        operator: &str,
        part_ids: Vec<String>,
        give_up_at: Option<Millis>,
    ) -> Result<Message, StoreError> {
        let parts = u32::try_from(part_ids.len()).unwrap_or(u32::MAX);
        if parts == 0 {
            return Err(StoreError::Invalid(
                "a submitted message has at least one part".into(),
            ));
        }
        let accepted = (0..parts).zip(part_ids).collect();
        self.record_accepted(id, operator, parts, accepted, None, give_up_at)
            .await
    }

    /// Records the operator's acknowledgement of one part of `parts`; the message becomes
    /// `submitted` once every part is acknowledged.
    pub async fn record_part_ack(
        &self,
        id: MessageId,
        part: u32,
        parts: u32,
        operator: &str,
        operator_id: &str,
        give_up_at: Option<Millis>,
    ) -> Result<Message, StoreError> {
        let accepted = vec![(part, operator_id.to_owned())];
        self.record_accepted(id, operator, parts, accepted, None, give_up_at)
            .await
    }

    /// Records the parts of a `submitting` message the operator acknowledged (part index and
    /// its message id, of `parts` in all, with the concatenation reference they carried). Once
    /// every part has an id the message is `submitted` and the final-receipt timeout is armed;
    /// until then it stays `submitting`, and a later send (to the same operator) sends only
    /// the parts still without an id. A receipt parked for one of the ids is applied.
    pub async fn record_accepted(
        &self,
        id: MessageId,
        operator: &str,
        parts: u32,
        accepted: Vec<(u32, String)>,
        concat_ref: Option<u16>,
        give_up_at: Option<Millis>,
    ) -> Result<Message, StoreError> {
        let change = Change::Accepted {
            operator: operator.to_owned(),
            parts,
            accepted,
            concat_ref,
            give_up_at,
        };
        self.change(id, change, now_ms()).await
    }

    /// Puts a `submitting` message back in the queue after a transient failure, due at `due`
    /// (the attempt stays counted). If `send_by` passes before `due`, it expires instead.
    pub async fn requeue(
        &self,
        id: MessageId,
        due: Millis,
        reason: &str,
        now: Millis,
    ) -> Result<Message, StoreError> {
        self.requeue_with(id, due, reason, now, false).await
    }

    /// Like [`Store::requeue`], but the attempt does not count (throttled, or never written
    /// to the wire); the reason stays in the history.
    pub async fn requeue_uncounted(
        &self,
        id: MessageId,
        due: Millis,
        reason: &str,
        now: Millis,
    ) -> Result<Message, StoreError> {
        self.requeue_with(id, due, reason, now, true).await
    }

    async fn requeue_with(
        &self,
        id: MessageId,
        due: Millis,
        reason: &str,
        now: Millis,
        refund: bool,
    ) -> Result<Message, StoreError> {
        let change = Change::Requeue {
            due,
            reason: reason.to_owned(),
            refund,
        };
        self.change(id, change, now).await
    }

    /// Hands a claimed message back unsent ("not yet", e.g. the recipient's rate limit),
    /// due at `until`; the claim's attempt is not counted and its history entry is undone.
    pub async fn defer(
        &self,
        id: MessageId,
        until: Millis,
        now: Millis,
    ) -> Result<Message, StoreError> {
        self.change(id, Change::Defer { until }, now).await
    }

    /// Moves a message that is not yet final into a final state (e.g. `rejected` on a
    /// permanent submit error, `failed` after too many attempts).
    pub async fn finish(
        &self,
        id: MessageId,
        state: State,
        reason: &str,
        now: Millis,
    ) -> Result<Message, StoreError> {
        self.change(
            id,
            Change::Finish {
                state,
                reason: reason.to_owned(),
            },
            now,
        )
        .await
    }

    /// Marks a `request` whose reply window closed unanswered as `cancelled` with `reason`
    /// (also after it was delivered); any other message or state is returned unchanged.
    pub async fn close_request(
        &self,
        id: MessageId,
        reason: &str,
        now: Millis,
    ) -> Result<Message, StoreError> {
        let change = Change::CloseRequest {
            reason: reason.to_owned(),
        };
        self.change(id, change, now).await
    }

    /// Records a delivery receipt for one part. Once every part has a final receipt the
    /// message becomes final: all delivered → `delivered`; any undeliverable/rejected/deleted
    /// → `undeliverable`; else any expired → `expired`; else `unknown`. A repeated receipt
    /// changes nothing. Returns the message as it now is.
    pub async fn record_receipt(
        &self,
        id: MessageId,
        part: u32,
        stat: &str,
        error: Option<&str>,
        at: Millis,
    ) -> Result<Message, StoreError> {
        let change = Change::Receipt {
            part,
            stat: stat.to_owned(),
            error: error.map(str::to_owned),
            at,
        };
        self.change(id, change, at).await
    }
}
