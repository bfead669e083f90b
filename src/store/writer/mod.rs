//! The single writer: every change to the store goes through one thread, so read-modify-write
//! needs no locks and each operation is one atomic batch. Durability is a group commit:
//! a second thread fsyncs while the writer keeps applying, and accepts that arrive during a
//! flush are gathered into one batch for the next one, so the accept rate grows with the
//! number of concurrent writers instead of being bounded by fsync latency.

pub mod accept;
mod chunks;
mod claim;
pub mod deadlines;
pub mod direct;
pub mod failure;
mod flights;
mod flusher;
mod history_commit;
mod history_view;
pub mod inbox;
mod layers;
pub mod lifecycle;
mod moves;
mod moves_state;
pub mod ops;
pub mod parked;
mod records;
pub mod recover;
mod refuse;
mod replies;
pub mod retention;
mod slow;
pub mod state;
pub mod thread;
mod tx;
mod verify;

pub use crate::store::reports::{
    Accepted, DroppedReceipts, Fired, ReceiptLanding, RetentionReport,
};
pub use crate::store::rules::receipt_outcome;
pub use direct::AcceptedOtps;
pub use failure::EXIT_STORE_FAILED;
pub use history_view::HistoryView;
pub use ops::Change;
pub use recover::recover_in_flight;
pub use thread::spawn;
