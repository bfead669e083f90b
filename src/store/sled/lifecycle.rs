//! The sled engine's changes after acceptance, each sent to the writer thread: one change to
//! one message, claims, receipts, events, deadlines and retention. Durable when they return
//! (except claims, which the next durable change or flush makes durable).

use super::SledStore;
use crate::message::{Kind, Message, MessageId, Millis};
use crate::store::error::StoreError;
use crate::store::event::Event;
use crate::store::layout::codec::ParkedReceipt;
use crate::store::reports::DroppedReceipts;
use crate::store::reports::Fired;
use crate::store::reports::ReceiptLanding;
use crate::store::reports::RetentionReport;
use crate::store::writer::ops::{Change, Op};

impl SledStore {
    /// Applies one change to one message; the message as it is now.
    pub async fn change(
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

    /// Claims up to `max` messages of `kind`'s lane due by `now`, in queue order, in one trip
    /// to the writer (see [`SledStore::claim_next`]). Empty when nothing in the lane is due.
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
        let receipt = ParkedReceipt::new(stat, error, at);
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
