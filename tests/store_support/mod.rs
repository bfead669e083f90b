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

/// Opens the store in `dir` with default settings.
pub fn open(dir: &Path) -> Store {
    open_with(dir, |_| {})
}

/// Opens the store in `dir` with settings changed by `change`.
pub fn open_with(dir: &Path, change: impl FnOnce(&mut StoreConfig)) -> Store {
    let mut config = StoreConfig::at(dir.join("store"));
    // finished messages move to the history tier at once: every store test crosses both tiers
    config.move_to_history_after = std::time::Duration::ZERO;
    change(&mut config);
    Store::open(&config).expect("open store")
}

/// Fails the test with the problem list if any index disagrees with the records.
pub async fn assert_consistent(store: &Store) {
    let problems = store.verify_integrity().await.expect("verify");
    assert!(problems.is_empty(), "integrity problems: {problems:#?}");
}

/// Accepts `n` bulk messages in one batch; their ids.
pub async fn accept_bulk(store: &Store, n: usize) -> Vec<MessageId> {
    store
        .accept_batch((0..n).map(|_| message(Kind::Bulk, None)).collect())
        .await
        .into_iter()
        .map(|a| a.expect("accepted").id)
        .collect()
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
