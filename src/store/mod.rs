//! The durable message store: every stage reads and writes message state through it, and a
//! restart resumes from it alone.
//!
//! # The contract
//!
//! The stages use the store through one type, [`Store`], and nothing else of it but its
//! answers and errors. What it promises, whatever engine keeps it:
//!
//! - **Accept** ([`Store::accept`], [`Store::accept_batch`]) answers only once the message is
//!   durable; a repeated `reference` finds the first message instead of storing a second.
//! - **Claim** ([`Store::claim_batch`]) hands each due message to one caller only, in queue
//!   order per lane; what a crash leaves `submitting` is queued again at the next open.
//! - **Results and receipts** ([`Store::mark_submitted`], [`Store::record_part_ack`],
//!   [`Store::requeue`], [`Store::defer`], [`Store::finish`], [`Store::record_or_park_receipt`],
//!   [`Store::cancel`]): each is one atomic change with its events, durable when it returns.
//! - **Reads** ([`Store::get`], [`Store::get_by_reference`], [`Store::find_by_operator_id`],
//!   [`Store::queued_head`], [`Store::counts`]) need no writer and see every change whole,
//!   live or moved to the history tier. They are `async` (but [`Store::counts`], kept in
//!   memory), so that an engine across the network answers them without holding a thread.
//! - **Events** ([`Store::read_events`], [`Store::subscribe`], [`Store::ack_cursor`]): a log
//!   with a durable sequence every subscriber resumes from.
//! - **Deadlines and retention** ([`Store::fire_due_deadlines`], [`Store::run_retention`],
//!   [`Store::trim_events`]): called by the housekeeping tasks, in bounded steps.
//!
//! # Layout
//!
//! - the interface: [`Store`] in `handle.rs` (each call sent to the engine that keeps the
//!   store, `[store] engine`), the changes the stages name in `lifecycle_api.rs`;
//! - the rules every engine applies the same way: [`rules`] (a message's life after its claim,
//!   deadlines, retention's erasing), over the [`rules::Indexes`] each engine keeps;
//! - the sled engine, in layers that only point down: [`sled`] (its side of the interface,
//!   the format check in [`format`]), [`writer`] (one thread that applies every change as
//!   groups: accept, claim, a message's life, deadlines, receipts, retention, the move to the
//!   history), [`layout`] (records and indexes as ordered keys, and their encodings), then
//!   [`engine`] (sled, the live store: the only module that names it, and the place that lists
//!   what the layers above do because of it) and [`history`] (SQLite, the finished messages);
//! - the PostgreSQL engine, for a cluster of nodes: [`postgres`].
//!
//! Beside them, leaves every layer may use: [`config`], [`counts`], [`disk`], [`error`],
//! [`event`], [`reports`] (the answers' types).

pub mod config;
pub mod counts;
pub mod disk;
pub mod engine;
pub mod error;
pub mod event;
pub mod format;
mod handle;
pub mod history;
pub mod layout;
mod lifecycle_api;
pub mod postgres;
pub mod reports;
pub mod rules;
pub mod sled;
pub mod writer;

pub use config::{PostgresConfig, StoreConfig, StoreEngine, TlsMode};
pub use counts::Counts;
pub use disk::DiskSpace;
pub use engine::open::open_waiting_for_lock;
pub use error::StoreError;
pub use event::{Event, StoredEvent};
pub use format::FORMAT_VERSION;
pub use handle::{AwaitingReceipt, Store, Tier, WeakStore};
pub use layout::{codec, keys};
pub use writer::{
    Accepted, AcceptedOtps, DroppedReceipts, EXIT_STORE_FAILED, Fired, ReceiptLanding,
    RetentionReport, receipt_outcome,
};
