//! Where the cluster's database is and how to reach it (`[store.postgres]`).

use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// The database connection settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PostgresConfig {
    /// The database server's host name or address.
    pub host: String,
    /// Its port.
    pub port: u16,
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
