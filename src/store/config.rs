//! Store settings (the `[store]` section of the config file).

use super::postgres::PostgresConfig;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// Where the store lives and how long it keeps what.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// Which engine keeps the store: `sled` (embedded, one machine, the default) or
    /// `postgres` (several nodes on one PostgreSQL database: `[store.postgres]`).
    pub engine: StoreEngine,
    /// The cluster's database, for `engine = "postgres"`.
    pub postgres: PostgresConfig,
    /// The store's directory (the live store's files and `history.sqlite`).
    pub path: PathBuf,
    /// The live store engine's page cache, in MiB (bounded: the queue itself lives on disk).
    /// The engine holds a little more than this; docs/BENCHMARKS.md (scenario D) measures the daemon's RSS with it.
    pub cache_mib: u64,
    /// Finished messages' texts are erased this long after they finished.
    #[serde(with = "humantime_serde")]
    pub erase_texts_after: Duration,
    /// Finished messages are forgotten entirely (record, reference, operator ids) this long
    /// after they finished, so the store does not grow without bound.
    #[serde(with = "humantime_serde")]
    pub forget_after: Duration,
    /// A finished message moves from the live store to the history tier this long after it
    /// finished (a receipt or reply coming later finds it in either).
    #[serde(with = "humantime_serde")]
    pub move_to_history_after: Duration,
    /// Events older than this are trimmed even if a subscriber has not acknowledged them.
    #[serde(with = "humantime_serde")]
    pub keep_events_for: Duration,
    /// The most operations one group commit gathers.
    pub max_group: usize,
    /// The free-space reserve, in MiB: below it new messages are refused (`unavailable`,
    /// "the disk is full") while accepted ones keep being sent and receipted, which needs
    /// small writes. 0 turns the check off.
    pub min_free_disk_mib: u64,
    /// Niceness (0–19) of the store's threads: the writer, its flusher and the engine's I/O pool.
    /// Above 0 they yield the CPU to the sockets and binds when the machine is saturated, so a
    /// bulk backlog being written does not delay an OTP on its way out (see `priority.rs`).
    /// The thread that commits the history tier then runs at 19, below them all.
    pub thread_nice: i32,
    /// End the process (exit status [`EXIT_STORE_FAILED`](super::writer::EXIT_STORE_FAILED))
    /// once a storage failure has made the store unusable, so a supervisor restarts it and
    /// the store recovers from its log (see [`Failure`](super::writer::failure::Failure)). Not a config
    /// file key: the daemon always does; in-process tests may turn it off.
    #[serde(skip, default = "exit_on_failure")]
    pub exit_on_failure: bool,
}

/// The engines that can keep the store.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StoreEngine {
    /// sled, embedded: the store is files in `path` on this machine.
    #[default]
    Sled,
    /// PostgreSQL: the store is the database `[store.postgres]` names, shared by the nodes.
    Postgres,
}

fn exit_on_failure() -> bool {
    true
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            engine: StoreEngine::Sled,
            postgres: PostgresConfig::default(),
            path: PathBuf::from("data/store"),
            cache_mib: 32,
            erase_texts_after: Duration::from_secs(30 * 86_400),
            forget_after: Duration::from_secs(180 * 86_400),
            move_to_history_after: Duration::from_secs(60),
            keep_events_for: Duration::from_secs(7 * 86_400),
            max_group: 8192,
            min_free_disk_mib: 256,
            thread_nice: 10,
            exit_on_failure: exit_on_failure(),
        }
    }
}

impl StoreConfig {
    /// The default settings for a store at `path`.
    pub fn at(path: impl Into<PathBuf>) -> Self {
        StoreConfig {
            path: path.into(),
            ..StoreConfig::default()
        }
    }
}
