//! khabar: an SMS gateway daemon for Kazakhstan's e-government systems.
//!
//! # Layout
//!
//! The modules follow the data path of `DESIGN.md`, one stage each, grouped in the order a
//! message meets them.
//!
//! Upstream in:
//! - [`api`]: the Unix socket, newline-delimited JSON: requests parsed, checked and answered.
//! - [`daemon`]: starts every stage and the socket, checks what upstream hands over, stops
//!   them in order.
//!
//! Keeping it:
//! - [`store`]: durable message state — sled for the live queue, SQLite for the history of
//!   finished messages; one writer thread with group commit; or PostgreSQL in cluster mode.
//! - [`cluster`]: cluster mode's operator leases: which node holds each operator's binds.
//! - [`otp`]: one-time passwords (codes kept as keyed hashes, per identification session).
//! - [`requests`]: proactive-service requests awaiting a reply, and their follow-ups.
//!
//! Sending it:
//! - [`scheduler`]: priority lanes, deadlines, retries; hands out the next due message.
//! - [`sending`]: paces recipients, builds the parts, hands jobs to the sessions.
//! - [`router`]: number prefix → operator, with fallbacks.
//! - [`sessions`]: SMPP binds per operator, windows, rate caps, health.
//!
//! Hearing back:
//! - [`receipts`]: delivery receipts and mobile-originated replies from the SMSCs.
//!
//! Shared rules (they depend on no stage):
//! - [`message`]: the message and its life, the types every stage shares.
//! - [`replies`]: what a subscriber's reply means (accept, decline, other).
//! - [`encoding`]: text → SMS parts (GSM 7-bit or UCS-2, concatenation).
//! - [`number`], [`operator_id`], [`iin`], [`calendar`], [`templates`]: phone numbers,
//!   operator message ids, IIN/BINs, working days and deadlines, message templates.
//! - [`tls`]: TLS client settings for the SMPP binds and the cluster's database.
//!
//! Around the stages:
//! - [`config`], [`cli`], [`metrics`], [`log_gate`], [`side_db`]: the configuration, the
//!   command line, the Prometheus endpoint, repeated log lines, the small sled databases beside
//!   the store.
//! - [`allocator`]: the process allocator (mimalloc) and how soon it returns freed memory.

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
pub mod cluster;
pub mod iin;
pub mod replies;
pub mod requests;
pub mod templates;
pub mod tls;

pub mod allocator;
pub mod api;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod log_gate;
pub mod metrics;
