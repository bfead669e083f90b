//! Store settings: the `[store]` section of the config file, and its `[store.postgres]` for
//! the cluster engine.

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

/// Where the cluster's database is and how to reach it (`[store.postgres]`).
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PostgresConfig {
    /// The database server's host name or address.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// The other servers of the database's cluster (`"host:port"`), tried in order after
    /// `host` when it does not answer or accepts no writes (a standby): after a failover the
    /// nodes find the promoted server without an address that moves. Empty: `host` only.
    pub standbys: Vec<String>,
    /// The database khabar's tables are in (created beforehand by the database's admin).
    pub database: String,
    /// The role khabar connects as (it must own the database's tables, or create them).
    pub user: String,
    /// A file whose first line is the role's password (relative: from config.toml's directory).
    pub password_file: Option<PathBuf>,
    /// An environment variable holding the password (used when `password_file` is not set).
    pub password_env: Option<String>,
    /// TLS to the database: `off`, or `verify` (the server's certificate checked against
    /// `ca_file`, or the public roots without it, and its name against `host`).
    pub tls: TlsMode,
    /// PEM file of the CA(s) that sign the database server's certificate.
    pub ca_file: Option<PathBuf>,
    /// How long one connection attempt may take.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// This node's name in the cluster (its claims are recorded under it, and a node that
    /// starts again takes back what it had in flight): unique per node and the same across its
    /// restarts. Default: the machine's host name.
    pub node: String,
}

/// Whether the connection to the database is encrypted.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plain TCP: for a database on the same host or a private network.
    #[default]
    Off,
    /// TLS, with the server's certificate and name verified.
    Verify,
}

impl Default for PostgresConfig {
    fn default() -> Self {
        PostgresConfig {
            host: "127.0.0.1".to_owned(),
            port: 5432,
            standbys: Vec::new(),
            database: "khabar".to_owned(),
            user: "khabar".to_owned(),
            password_file: None,
            password_env: None,
            tls: TlsMode::Off,
            ca_file: None,
            connect_timeout: Duration::from_secs(5),
            node: host_name(),
        }
    }
}

/// The machine's host name (`node` when none is set), or `khabar` if it cannot be read.
fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is writable for its whole length, which is passed
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    match std::str::from_utf8(&buf[..end]) {
        Ok(name) if ok && !name.is_empty() => name.to_owned(),
        _ => "khabar".to_owned(),
    }
}

impl PostgresConfig {
    /// Every server to try, `host:port` first then the `standbys`; fails on a standby entry
    /// that is not `host:port`.
    pub fn servers(&self) -> Result<Vec<(String, u16)>, String> {
        let mut servers = vec![(self.host.clone(), self.port)];
        for entry in &self.standbys {
            let parsed = entry
                .rsplit_once(':')
                .and_then(|(host, port)| Some((host.to_owned(), port.parse().ok()?)));
            match parsed {
                Some(server) if !server.0.is_empty() => servers.push(server),
                _ => {
                    return Err(format!(
                        "[store.postgres] standbys: {entry:?} is not \"host:port\""
                    ));
                }
            }
        }
        Ok(servers)
    }

    /// The password from `password_file` or `password_env`, in that order; `None` when
    /// neither is set (the server then authenticates khabar otherwise, e.g. by its address).
    pub fn resolve_password(&self) -> Result<Option<String>, String> {
        if let Some(path) = &self.password_file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                format!(
                    "[store.postgres] cannot read password_file {}: {e}",
                    path.display()
                )
            })?;
            return Ok(Some(text.lines().next().unwrap_or("").to_owned()));
        }
        if let Some(var) = &self.password_env {
            return std::env::var(var).map(Some).map_err(|_| {
                format!("[store.postgres] password_env names {var}, which is not set")
            });
        }
        Ok(None)
    }
}
