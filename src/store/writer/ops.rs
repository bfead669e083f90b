//! The requests the writer serves.

use crate::message::{Message, MessageId, Millis, NewMessage};
use crate::store::error::StoreError;
use crate::store::event::Event;
use crate::store::layout::codec::ParkedReceipt;
use crate::store::reports::Accepted;
use crate::store::reports::DroppedReceipts;
use crate::store::reports::Fired;
use crate::store::reports::ReceiptLanding;
use crate::store::reports::RetentionReport;
use tokio::sync::oneshot;

pub use crate::store::rules::Change;

/// The answer channel of an op.
pub type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// The answer channel of an accept: one result per message.
pub type AcceptReply = oneshot::Sender<Vec<Result<Accepted, StoreError>>>;

/// A request to the writer.
pub enum Op {
    /// Accept messages (durable).
    Accept {
        messages: Vec<NewMessage>,
        reply: AcceptReply,
    },
    /// Change one message (durable).
    Change {
        id: MessageId,
        change: Change,
        now: Millis,
        reply: Reply<Message>,
    },
    /// Claim up to `max` due messages of a lane, in order (answered before the flush).
    Claim {
        lane: u8,
        now: Millis,
        max: usize,
        reply: Reply<Vec<Message>>,
    },
    /// Fire deadlines up to `now` (durable).
    Fire {
        now: Millis,
        limit: usize,
        reply: Reply<Fired>,
    },
    /// Erase old texts and forget old messages (durable).
    Retention {
        now: Millis,
        limit: usize,
        reply: Reply<RetentionReport>,
    },
    /// Trim the event log (durable).
    TrimEvents {
        now: Millis,
        limit: usize,
        reply: Reply<usize>,
    },
    /// Record a receipt for the part with one of these operator ids, or park it under the
    /// first until its submit result lands (durable).
    Receipt {
        operator: String,
        candidates: Vec<String>,
        receipt: ParkedReceipt,
        reply: Reply<ReceiptLanding>,
    },
    /// Drop receipts parked before `before` (at most `limit`); durable.
    DropParked {
        before: Millis,
        limit: usize,
        reply: Reply<DroppedReceipts>,
    },
    /// Append an event (durable).
    AppendEvent { event: Event, reply: Reply<u64> },
    /// Move a consumer cursor (durable).
    AckCursor {
        name: String,
        seq: u64,
        reply: Reply<()>,
    },
    /// Check every index against the records.
    Verify { reply: Reply<Vec<String>> },
    /// Wait until everything so far is durable.
    Flush { reply: Reply<()> },
    /// The flusher finished a flush.
    FlusherIdle,
    /// The history committer made flush job `job`'s history writes (and those before) durable.
    HistoryDurable { job: u64 },
    /// Nothing: wakes the writer for an op in the urgent inbox (see `inbox`).
    Wake,
    /// Stop after making everything durable.
    Shutdown,
}

impl Op {
    /// The op's name, for the slow-step warning.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Accept { .. } => "accept",
            Op::Change { .. } => "change",
            Op::Claim { .. } => "claim",
            Op::Fire { .. } => "fire deadlines",
            Op::Retention { .. } => "retention",
            Op::TrimEvents { .. } => "trim events",
            Op::Receipt { .. } => "receipt",
            Op::DropParked { .. } => "drop parked receipts",
            Op::AppendEvent { .. } => "append event",
            Op::AckCursor { .. } => "ack cursor",
            Op::Verify { .. } => "verify",
            Op::Flush { .. } => "flush",
            Op::FlusherIdle => "flusher idle",
            Op::HistoryDurable { .. } => "history durable",
            Op::Wake => "wake",
            Op::Shutdown => "shutdown",
        }
    }
}
