//! What the writer reports back for its ops: the answer types of the store's interface, kept
//! below every file that produces them so that the ops, their senders and their handlers all
//! point down to them.

use crate::message::{Message, MessageId, State};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The answer to an accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accepted {
    /// The message's id (the first message's, for a repeated reference).
    pub id: MessageId,
    /// Its current state.
    pub state: State,
    /// True when the reference was already known and nothing new was stored.
    pub duplicate: bool,
}

/// What one retention pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// Texts erased.
    pub texts_erased: usize,
    /// Messages forgotten.
    pub forgotten: usize,
    /// True when a walk stopped at its limit with more to look at.
    pub more: bool,
}

/// What one pass of the watcher did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fired {
    /// Queued messages expired at their `send_by`.
    pub expired: usize,
    /// `receipt_overdue` events raised.
    pub overdue: usize,
    /// Submitted messages that became `unknown`.
    pub gave_up: usize,
    /// Entries dropped because their message had moved on.
    pub dropped: usize,
    /// True when the pass stopped at its limit with more due.
    pub more: bool,
}

impl Fired {
    /// Every deadline the pass handled, fired or dropped.
    pub fn total(&self) -> usize {
        self.expired + self.overdue + self.gave_up + self.dropped
    }
}

/// Where a receipt went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReceiptLanding {
    /// Recorded on this part of the message (as it now is).
    Recorded {
        /// The message after the receipt.
        message: Box<Message>,
        /// The part it reported.
        part: u32,
    },
    /// No part has its id yet: parked until one does.
    Parked,
}

/// Parked receipts dropped because their hold ended, per operator.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DroppedReceipts {
    /// How many per operator.
    pub by_operator: BTreeMap<String, u64>,
    /// True when `limit` stopped the sweep (call again).
    pub more: bool,
}

impl DroppedReceipts {
    /// How many in all.
    pub fn total(&self) -> u64 {
        self.by_operator.values().sum()
    }
}
