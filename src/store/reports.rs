//! The answer types of the store's interface (what an accept, a claim's outcome, a pass of the
//! deadline watcher or of retention reports back; where a message is kept; what awaits a
//! receipt), kept below every engine and rule that produces them so that all point down to
//! them.

use crate::message::{Kind, Message, MessageId, Millis, State};
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

/// Where a message is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tier {
    /// The live store (on sled, [`crate::store::engine`]; every message, on the cluster engine).
    Live,
    /// The history tier of finished messages (SQLite).
    History,
}
/// A live message awaiting its receipt (see [`Store::awaiting_receipts`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwaitingReceipt {
    /// The message.
    pub id: MessageId,
    /// Its kind (its lane).
    pub kind: Kind,
    /// True when it is `submitted` (the operator took it; its receipt has not come).
    pub submitted: bool,
    /// Its `receipt_by`, when that passed while it was not final.
    pub overdue: Option<Millis>,
}

/// What one renewal of a node's operator leases found (cluster engine; a single node on the
/// embedded engine holds every operator).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeaseReport {
    /// The operators this node holds now.
    pub held: Vec<String>,
    /// Leases this renewal took, and from which node (none when nobody held it before).
    pub taken: Vec<(String, Option<String>)>,
    /// Nodes found silent for longer than a lease, with messages in flight: those go back to
    /// the queue (as after their crash).
    pub gone: Vec<String>,
}

/// The cluster as the database sees it, for `khabar status`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterView {
    /// Every node that ever joined, by name.
    pub nodes: Vec<NodeView>,
    /// Who holds each operator's binds.
    pub leases: Vec<LeaseView>,
    /// The database server's version and whether it is a standby in recovery.
    pub database: String,
}

/// One node of the cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeView {
    /// Its name.
    pub name: String,
    /// Milliseconds since its last heartbeat, by the database's clock.
    pub silent_ms: i64,
    /// Whether it answered within its lease time (it is counted as gone after).
    pub alive: bool,
}

/// One operator's lease.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseView {
    /// The operator.
    pub operator: String,
    /// The node holding (or last holding) its binds.
    pub node: String,
    /// How many times the lease changed hands.
    pub epoch: i64,
    /// Milliseconds until it expires (negative: expired, free to take).
    pub expires_in_ms: i64,
}
