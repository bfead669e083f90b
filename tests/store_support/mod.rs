//! Helpers shared by the store and scheduler tests.
#![allow(dead_code)] // each test file uses a different subset

use khabar::message::{Extra, Kind, MessageId, NewMessage};
use khabar::store::{Store, StoreConfig};
use std::path::Path;

/// A valid message of `kind` with an optional reference.
pub fn message(kind: Kind, reference: Option<&str>) -> NewMessage {
    NewMessage {
        reference: reference.map(str::to_owned),
        kind,
        recipient: "77011234567".to_owned(),
        sender: Some("eGov".to_owned()),
        text: "Құрметті алушы! Өтінішіңіз қабылданды.".to_owned(),
        send_by: None,
        receipt_by: None,
        extra: Extra::default(),
    }
}

/// Whether this test binary runs the store's contract tests on the cluster engine: the
/// binaries named `*_on_postgres` include a contract test file whole (e.g.
/// `tests/store_accept_on_postgres.rs`), and its `open` then gives a PostgreSQL store.
pub fn on_postgres() -> bool {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.file_name().map(|n| n.to_string_lossy().into_owned()))
        .is_some_and(|name| name.contains("_on_postgres"))
}

/// Opens the store in `dir` with default settings.
pub async fn open(dir: &Path) -> Store {
    open_with(dir, |_| {}).await
}

/// Opens the store in `dir` with settings changed by `change`: the sled store in `dir`, or on
/// the cluster engine ([`on_postgres`]) the database of `dir` in the binary's shared
/// PostgreSQL (the same database each time `dir` is opened again, as node `test`).
pub async fn open_with(dir: &Path, change: impl FnOnce(&mut StoreConfig)) -> Store {
    let mut config = StoreConfig::at(dir.join("store"));
    // finished messages move to the history tier at once: every store test crosses both tiers
    config.move_to_history_after = std::time::Duration::ZERO;
    change(&mut config);
    if !on_postgres() {
        return Store::open(&config).expect("open store");
    }
    let pg = test_postgres::TestPostgres::shared();
    let database = database_of(pg, dir);
    let mut settings = cluster_settings(pg);
    settings.database = database;
    Store::open_cluster(&settings, "test", &config)
        .await
        .expect("open the cluster store")
}

/// The sled store in `dir` with default settings, from outside a runtime (the crash test's
/// child and parent).
pub fn open_sled(dir: &Path) -> Store {
    let mut config = StoreConfig::at(dir.join("store"));
    config.move_to_history_after = std::time::Duration::ZERO;
    Store::open(&config).expect("open store")
}

/// The database of `dir` in `pg`, made the first time.
fn database_of(pg: &test_postgres::TestPostgres, dir: &Path) -> String {
    use std::hash::{Hash, Hasher};
    let mut hash = std::collections::hash_map::DefaultHasher::new();
    dir.hash(&mut hash);
    let name = format!("t_{:016x}", hash.finish());
    let exists = pg
        .psql(
            "postgres",
            &format!("SELECT count(*) FROM pg_database WHERE datname = '{name}'"),
        )
        .expect("psql");
    if exists == "0" {
        pg.psql("postgres", &format!("CREATE DATABASE {name}"))
            .expect("create the test's database");
    }
    name
}

/// Fails the test with the problem list if any index disagrees with the records.
pub async fn assert_consistent(store: &Store) {
    let problems = store.verify_integrity().await.expect("verify");
    assert!(problems.is_empty(), "integrity problems: {problems:#?}");
}

/// Accepts `batch` in one call, every message of it; their ids, in order.
pub async fn accept_all(store: &Store, batch: Vec<NewMessage>) -> Vec<MessageId> {
    store
        .accept_batch(batch)
        .await
        .into_iter()
        .map(|a| a.expect("accepted").id)
        .collect()
}

/// Accepts `n` bulk messages in one batch; their ids.
pub async fn accept_bulk(store: &Store, n: usize) -> Vec<MessageId> {
    accept_all(store, (0..n).map(|_| message(Kind::Bulk, None)).collect()).await
}

/// The seqs of up to `limit` events after `after`.
pub async fn event_seqs(store: &Store, after: u64, limit: usize) -> Vec<u64> {
    let events = store.read_events(after, limit).await.expect("read events");
    events.iter().map(|e| e.seq).collect()
}

/// The settings that reach `pg`'s `postgres` database as its superuser.
pub fn cluster_settings(pg: &test_postgres::TestPostgres) -> khabar::store::PostgresConfig {
    khabar::store::PostgresConfig {
        port: pg.port(),
        database: "postgres".into(),
        user: test_postgres::USER.into(),
        ..khabar::store::PostgresConfig::default()
    }
}

/// Opens the cluster store on `pg` as node `node`, with `store`'s settings.
pub async fn open_cluster(
    pg: &test_postgres::TestPostgres,
    node: &str,
    store: StoreConfig,
) -> khabar::store::postgres::PgStore {
    khabar::store::postgres::PgStore::open(&cluster_settings(pg), node, &store)
        .await
        .expect("open the cluster store")
}
