//! The PostgreSQL engine, for cluster mode: several khabar nodes sharing one database, so that
//! the loss of a machine loses no accepted message and stops no operator's traffic for long.
//!
//! What is here so far: the connection settings ([`config`]), connecting with the password
//! from a file or the environment and TLS to the database ([`connect`]), and the schema with
//! its versioned migrations ([`migrate`]). The store's operations on this engine, and the
//! `[store] engine` setting that selects it, come next (issue "cluster mode").
//!
//! The engine keeps the promises of the store's contract (`super`) with the database's own
//! means: "accepted" is a committed transaction, a claim is a row lock (`FOR UPDATE SKIP
//! LOCKED`), the event log's sequence is assigned under one row's lock so it is gap-free in
//! commit order.

mod accept;
mod claim;
pub mod config;
pub mod connect;
mod counts;
mod deadlines;
mod events;
mod handle;
mod life;
pub mod migrate;
mod read;
mod receipts;
mod recover;
mod writer;

pub use config::{PostgresConfig, TlsMode};
pub use connect::connect;
pub use handle::PgStore;
pub use migrate::{MIGRATION_LOCK, Migrated, SCHEMA_VERSION, check_schema, migrate};
