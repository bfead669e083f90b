//! khabar: an SMS gateway daemon for Kazakhstan's e-government systems.
//!
//! The modules follow the data path of `DESIGN.md`, one stage each:
//! upstream `api` → durable `store` → `scheduler` (lanes, deadlines, retries) → `router`
//! (number prefix → operator) → `sessions` (SMPP binds) → `receipts` (delivery receipts and
//! replies) → events back to upstream. The remaining modules are shared rules.

pub mod message;
pub mod operator_id;
pub mod otp;

pub mod scheduler;
pub mod side_db;
pub mod store;

pub mod encoding;
pub mod number;
pub mod receipts;
pub mod router;
pub mod sending;
pub mod sessions;

pub mod calendar;
pub mod iin;
pub mod replies;
pub mod requests;
pub mod templates;

pub mod api;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod log_gate;
pub mod metrics;

/// The process allocator for the daemon, its tools, tests and benchmarks: sled 0.34 copies a
/// tree node on every write, and under glibc's malloc a third of the store writer's time went
/// to allocating and consolidating those copies (profile in the README, scenario B).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
