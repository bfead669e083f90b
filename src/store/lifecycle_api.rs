//! The store's write API after acceptance: what the scheduler, the sending stage, the receipts
//! stage and the housekeeping tasks call. Each call is one atomic change, durable when it
//! returns (except claims, which the next durable change or flush makes durable).

use crate::message::{Kind, Message, MessageId, Millis, State, now_ms};
use crate::store::error::StoreError;
use crate::store::event::Event;
use crate::store::handle::Store;
use crate::store::layout::codec::ParkedReceipt;
use crate::store::writer::ops::{Change, Op};
use crate::store::writer::reports::DroppedReceipts;
use crate::store::writer::reports::Fired;
use crate::store::writer::reports::ReceiptLanding;
use crate::store::writer::reports::RetentionReport;

impl Store {
    async fn change(
        &self,
        id: MessageId,
        change: Change,
        now: Millis,
    ) -> Result<Message, StoreError> {
        self.ask(|reply| Op::Change {
            id,
            change,
            now,
            reply,
        })
        .await?
    }

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

    /// Claims up to `max` messages of `kind`'s lane due by `now`, in queue order, in one trip
    /// to the writer (see [`Store::claim_next`]). Empty when nothing in the lane is due.
    pub async fn claim_batch(
        &self,
        kind: Kind,
        now: Millis,
        max: usize,
    ) -> Result<Vec<Message>, StoreError> {
        let lane = kind.lane();
        self.ask(|reply| Op::Claim {
            lane,
            now,
            max,
            reply,
        })
        .await?
    }

    /// From now on OTPs are claimed in the same group as their accept and arrive here,
    /// `submitting`, once that group is on disk: the sending stage's fast path. Claim loops
    /// still find what this does not take (OTPs due later, retries, or all of them once the
    /// receiver is dropped). One taker at a time.
    pub fn take_otps_at_accept(&self) -> crate::store::writer::direct::AcceptedOtps {
        self.inner.shared.direct.register()
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

    /// Records a receipt for the part whose operator message id (from `operator`) is one of
    /// `candidates` (in order, first hit wins: see [`crate::operator_id::id_candidates`]), or,
    /// when none is known yet, parks it under the first candidate until a submit result
    /// brings that id. Durable when it returns either way, so the deliver_sm can be answered.
    pub async fn record_or_park_receipt(
        &self,
        operator: &str,
        candidates: Vec<String>,
        stat: &str,
        error: Option<&str>,
        at: Millis,
    ) -> Result<ReceiptLanding, StoreError> {
        let receipt = ParkedReceipt {
            stat: stat.to_owned(),
            error: error.map(str::to_owned),
            at,
            parked_at: now_ms(),
        };
        let operator = operator.to_owned();
        self.ask(|reply| Op::Receipt {
            operator,
            candidates,
            receipt,
            reply,
        })
        .await?
    }

    /// Drops up to `limit` receipts parked before `before`: they matched no message within
    /// their hold.
    pub async fn drop_parked_receipts(
        &self,
        before: Millis,
        limit: usize,
    ) -> Result<DroppedReceipts, StoreError> {
        self.ask(|reply| Op::DropParked {
            before,
            limit,
            reply,
        })
        .await?
    }

    /// Appends an event (e.g. a reply) to the log; returns its seq.
    pub async fn append_event(&self, event: Event) -> Result<u64, StoreError> {
        self.ask(|reply| Op::AppendEvent { event, reply }).await?
    }

    /// Records that the named consumer has handled every event up to `seq`.
    pub async fn ack_cursor(&self, name: &str, seq: u64) -> Result<(), StoreError> {
        let name = name.to_owned();
        self.ask(|reply| Op::AckCursor { name, seq, reply }).await?
    }

    /// Fires deadlines up to `now` from the deadline index (at most about `limit` entries;
    /// `more` tells whether to call again).
    pub async fn fire_due_deadlines(&self, now: Millis, limit: usize) -> Result<Fired, StoreError> {
        self.ask(|reply| Op::Fire { now, limit, reply }).await?
    }

    /// Erases the texts of messages finished longer ago than the text retention and forgets
    /// messages finished longer ago than the record retention (at most `limit` records each).
    pub async fn run_retention(
        &self,
        now: Millis,
        limit: usize,
    ) -> Result<RetentionReport, StoreError> {
        self.ask(|reply| Op::Retention { now, limit, reply })
            .await?
    }

    /// Deletes events every consumer has acknowledged and events older than the event
    /// retention (at most `limit`); returns how many.
    pub async fn trim_events(&self, now: Millis, limit: usize) -> Result<usize, StoreError> {
        self.ask(|reply| Op::TrimEvents { now, limit, reply })
            .await?
    }
}
