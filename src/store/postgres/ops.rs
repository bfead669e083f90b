//! What the cluster engine's writer task is asked to do: one [`Op`] per call, answered on its
//! own channel once committed.

use crate::message::{Message, MessageId, Millis, NewMessage};
use crate::store::error::StoreError;
use crate::store::event::Event;
use crate::store::layout::codec::ParkedReceipt;
use crate::store::reports::{Accepted, Fired, ReceiptLanding, RetentionReport};
use crate::store::rules::Change;
use tokio::sync::oneshot;

/// What the writer is asked to do.
pub enum Op {
    /// Accept these messages; one answer each, in order.
    Accept {
        /// The messages.
        messages: Vec<NewMessage>,
        /// Where the answers go.
        reply: oneshot::Sender<Vec<Result<Accepted, StoreError>>>,
    },
    /// Claim up to `max` messages of `lane` due by `now`.
    Claim {
        /// The lane.
        lane: u8,
        /// The time they must be due by.
        now: Millis,
        /// The most to claim.
        max: usize,
        /// Where the claimed messages go.
        reply: oneshot::Sender<Result<Vec<Message>, StoreError>>,
    },
    /// Apply one change to one message.
    Change {
        /// The message.
        id: MessageId,
        /// The change.
        change: Change,
        /// When it happens.
        now: Millis,
        /// Where the message as it is now goes.
        reply: oneshot::Sender<Result<Message, StoreError>>,
    },
    /// Record a receipt on the part one of `candidates` names, or park it.
    Receipt {
        /// The operator that sent it.
        operator: String,
        /// The forms of its message id, the canonical one first.
        candidates: Vec<String>,
        /// The receipt.
        receipt: ParkedReceipt,
        /// Where the outcome goes.
        reply: oneshot::Sender<Result<ReceiptLanding, StoreError>>,
    },
    /// Fire the deadlines due by `now` of up to `limit` messages.
    Fire {
        /// The time.
        now: Millis,
        /// The most messages.
        limit: usize,
        /// What fired.
        reply: oneshot::Sender<Result<Fired, StoreError>>,
    },
    /// One retention pass over at most `limit` messages.
    Retention {
        /// The time.
        now: Millis,
        /// The most messages each of erasing and forgetting.
        limit: usize,
        /// What it did.
        reply: oneshot::Sender<Result<RetentionReport, StoreError>>,
    },
    /// Put back in the queue what these nodes, gone silent, had in flight.
    RequeueGone {
        /// The nodes.
        nodes: Vec<String>,
        /// How many messages.
        reply: oneshot::Sender<Result<usize, StoreError>>,
    },
    /// Give up this node's leases.
    ReleaseLeases {
        /// Done.
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    /// Append an event to the log.
    AppendEvent {
        /// The event.
        event: Event,
        /// Its seq.
        reply: oneshot::Sender<Result<u64, StoreError>>,
    },
}
