//! The PostgreSQL engine, for cluster mode: several khabar nodes sharing one database, so that
//! the loss of a machine loses no accepted message and stops no operator's traffic for long.
//!
//! [`PgStore`] is its handle: accepts group-committed by one writer task (`writer.rs`), claims
//! that never hand a message to two nodes, a message's life and its deadlines by the rules
//! both engines share ([`crate::store::rules`]), receipts matched whichever node receives them,
//! the event log with subscribers on every node woken by `LISTEN/NOTIFY`, counters for status,
//! and a node's messages in flight requeued at its start. The connection settings are
//! [`PostgresConfig`], connecting with the password from a file or the environment and TLS to the
//! database [`connect`], the schema and its versioned migrations [`migrate`]. `[store] engine =
//! "postgres"` selects it. A connection lost (the database restarted or failed over) is made
//! again: reads on their next call (`reads.rs`), the writer with pauses before it answers its
//! callers, running again an op the loss interrupted, and the event listener in the background.
//! Not yet here: the OTP and requests databases, which stay sled files on each node.
//!
//! The engine keeps the promises of the store's contract (`super`) with the database's own
//! means: "accepted" is a committed transaction, a claim is a row lock (`FOR UPDATE SKIP
//! LOCKED`), the event log's sequence is assigned under one row's lock so it is gap-free in
//! commit order.

mod accept;
mod claim;
mod committer;
pub mod connect;
mod counts;
mod deadlines;
mod events;
mod handle;
mod leases;
mod life;
pub mod migrate;
mod ops;
mod prepared;
mod read;
mod reads;
mod receipts;
mod recover;
mod retention;
mod together;
mod writer;

pub use crate::store::config::{PostgresConfig, TlsMode};

use crate::store::error::StoreError;

/// A database call that failed: what it was doing (in words an operator reads in the log),
/// with the database's error kept as the cause.
fn failed(what: &str, e: tokio_postgres::Error) -> StoreError {
    StoreError::storage(format!("{what}: {e}"), e)
}

/// (operator, operator id) keys as two arrays, for `unnest`.
fn split_keys<'a>(
    keys: impl Iterator<Item = &'a (String, String)>,
) -> (Vec<&'a str>, Vec<&'a str>) {
    keys.map(|(operator, id)| (operator.as_str(), id.as_str()))
        .unzip()
}

/// Runs `sql`, whose `$1` and `$2` are the operators and operator ids of `keys` (see
/// [`split_keys`]), in `tx`; its rows. Nothing is run for no keys. `doing` names the work in
/// its error.
async fn by_keys<'a>(
    tx: &tokio_postgres::Transaction<'_>,
    sql: &'static str,
    keys: impl Iterator<Item = &'a (String, String)>,
    doing: &str,
) -> Result<Vec<tokio_postgres::Row>, StoreError> {
    use prepared::Prepare;
    let (operators, operator_ids) = split_keys(keys);
    if operators.is_empty() {
        return Ok(Vec::new());
    }
    tx.query(&tx.prepared(sql).await?, &[&operators, &operator_ids])
        .await
        .map_err(|e| failed(doing, e))
}

pub use connect::connect;
pub use handle::{PgStore, WeakPg};
pub use migrate::{MIGRATION_LOCK, Migrated, SCHEMA_VERSION, check_schema, migrate};
