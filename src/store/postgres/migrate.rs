//! The database's schema and its versioned migrations.
//!
//! Every node runs [`migrate`] at start: in one transaction, under an advisory lock (several
//! nodes starting at once apply each migration once), it creates the version table if needed,
//! refuses a schema newer than this binary, and applies the migrations it lacks. PostgreSQL's
//! schema changes are transactional, so a migration is applied whole or not at all.
//! Hand-written rather than a migration crate's runner: those take no lock against a second
//! node migrating at once, and the refusal of a newer schema must say what to do.

use super::failed;
use crate::store::error::StoreError;
use tokio_postgres::Client;

/// The migrations, in order: version, what it does, its SQL.
const MIGRATIONS: &[(i32, &str, &str)] = &[(
    1,
    "messages, the event log, nodes and leases",
    include_str!("schema/0001_live_store.sql"),
)];

/// The schema version this binary reads and writes.
pub const SCHEMA_VERSION: i32 = MIGRATIONS[MIGRATIONS.len() - 1].0;

/// The advisory lock a migration holds until it commits (an arbitrary key, "khabar" in ASCII):
/// a node that starts meanwhile waits for it, as `pg_locks` shows.
pub const MIGRATION_LOCK: i64 = 0x6b68_6162_6172;

/// What [`migrate`] found and did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Migrated {
    /// The schema version before (0: a database without khabar's tables).
    pub from: i32,
    /// The schema version now.
    pub to: i32,
}

/// Brings the database's schema to [`SCHEMA_VERSION`]. Fails with
/// [`StoreError::SchemaTooNew`] when a newer khabar has already migrated it, and with
/// [`StoreError::Storage`] when a statement fails (nothing of that migration is applied).
pub async fn migrate(client: &mut Client) -> Result<Migrated, StoreError> {
    let tx = client
        .transaction()
        .await
        .map_err(|e| failed("starting the migration", e))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(|e| failed("waiting for another node's migration", e))?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS khabar_schema (
             version    integer     PRIMARY KEY,
             applied_at timestamptz NOT NULL DEFAULT now(),
             what       text        NOT NULL
         )",
    )
    .await
    .map_err(|e| failed("creating the schema version table", e))?;
    let from = current(&tx).await?;
    refuse_newer(from)?;
    for (version, what, sql) in MIGRATIONS.iter().filter(|(v, _, _)| *v > from) {
        tx.batch_execute(sql)
            .await
            .map_err(|e| failed(&format!("applying schema version {version} ({what})"), e))?;
        tx.execute(
            "INSERT INTO khabar_schema (version, what) VALUES ($1, $2)",
            &[version, what],
        )
        .await
        .map_err(|e| failed("recording the schema version", e))?;
    }
    tx.commit()
        .await
        .map_err(|e| failed("committing the migration", e))?;
    if from < SCHEMA_VERSION {
        tracing::info!(from, to = SCHEMA_VERSION, "database schema migrated");
    }
    Ok(Migrated {
        from,
        to: SCHEMA_VERSION,
    })
}

/// Checks, without changing anything, that the database's schema is the one this binary
/// writes: [`StoreError::SchemaTooNew`] or [`StoreError::SchemaTooOld`] otherwise.
pub async fn check_schema(client: &Client) -> Result<(), StoreError> {
    let exists: bool = client
        .query_one("SELECT to_regclass('khabar_schema') IS NOT NULL", &[])
        .await
        .map_err(|e| failed("reading the schema version", e))?
        .get(0);
    let found = if exists { current(client).await? } else { 0 };
    refuse_newer(found)?;
    if found < SCHEMA_VERSION {
        return Err(StoreError::SchemaTooOld {
            found: unsigned(found),
            supported: unsigned(SCHEMA_VERSION),
        });
    }
    Ok(())
}

async fn current(client: &impl tokio_postgres::GenericClient) -> Result<i32, StoreError> {
    let row = client
        .query_one("SELECT coalesce(max(version), 0) FROM khabar_schema", &[])
        .await
        .map_err(|e| failed("reading the schema version", e))?;
    Ok(row.get(0))
}

fn refuse_newer(found: i32) -> Result<(), StoreError> {
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found: unsigned(found),
            supported: unsigned(SCHEMA_VERSION),
        });
    }
    Ok(())
}

/// A version as the errors show it (the table's column is a signed integer).
fn unsigned(version: i32) -> u32 {
    u32::try_from(version).unwrap_or(0)
}
