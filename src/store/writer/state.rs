//! What the writer keeps and shares: its bookkeeping (persisted with every batch), what the
//! readers share with it, and its settings.

use super::direct::DirectClaims;
use super::failure::Failure;
use crate::message::Millis;
use crate::store::counts::Counts;
use serde::{Deserialize, Serialize};
use std::sync::Mutex;
use tokio::sync::watch;

/// The writer's bookkeeping, persisted in `meta/state` with every batch.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriterState {
    /// The last message id issued.
    pub last_id: u64,
    /// The last event seq issued.
    pub event_seq: u64,
    /// The last chunk seq issued.
    pub chunk_seq: u64,
    /// Messages per state and queued per lane.
    pub counts: Counts,
    /// Every deadline up to this time has fired.
    pub deadline_clock: Millis,
    /// Every record below this id has had its text erased (or never needs to).
    pub erase_cursor: u64,
    /// Every record below this id has been forgotten (or never needs to be).
    pub forget_cursor: u64,
    /// Receipts parked under `p/` (none: a submit result need not look for one).
    #[serde(default)]
    pub parked: u64,
    /// Every history record below this id has had its text erased (or never needs to).
    #[serde(default)]
    pub history_erase_cursor: u64,
    /// Every history record below this id has been forgotten (or never needs to be).
    #[serde(default)]
    pub history_forget_cursor: u64,
    /// Every event up to this seq has moved to the history tier (and left the live store).
    #[serde(default)]
    pub events_moved: u64,
}

/// What the readers share with the writer.
pub struct Shared {
    /// The latest counters.
    pub counts: Mutex<Counts>,
    /// The seq of the last durable event; subscribers wake when it moves.
    pub events: watch::Sender<u64>,
    /// Set by the first storage failure; after it nothing more is written.
    pub failure: Failure,
    /// Who takes OTPs claimed at acceptance.
    pub direct: DirectClaims,
    /// Every event up to this seq is in the history tier (readers read them there; the live
    /// store may already have dropped them).
    pub events_in_history: std::sync::atomic::AtomicU64,
}

/// Settings the writer needs.
pub struct WriterConfig {
    /// Most messages applied in one accept batch.
    pub max_group: usize,
    /// Text retention, in ms.
    pub erase_after_ms: Millis,
    /// Record retention, in ms.
    pub forget_after_ms: Millis,
    /// Event retention, in ms.
    pub keep_events_ms: Millis,
    /// The store's directory (its log is fsynced after every flush, see [`crate::store::engine::log_sync`]).
    pub store_dir: std::path::PathBuf,
    /// Niceness of the writer, the flusher and the engine's I/O pool (see [`crate::store::engine::priority`]).
    pub thread_nice: i32,
    /// A finished message moves to the history tier this long after it finished, in ms.
    pub move_after_ms: Millis,
}
