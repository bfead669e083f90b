//! `config.toml`: every section of the daemon's configuration, with defaults for everything
//! but the operators. Relative paths are taken from the config file's directory.

use crate::api::server::ServerConfig;
use crate::calendar::CalendarConfig;
use crate::encoding::EncodingConfig;
use crate::otp::OtpConfig;
use crate::router::RouteConfig;
use crate::scheduler::SchedulerConfig;
use crate::sessions::OperatorConfig;
use crate::store::StoreConfig;
use crate::templates::TemplatesConfig;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The whole configuration file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the store, OTP keys and the socket live (default `data`).
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// `text` (default) or `json` log lines on stderr; the level comes from `RUST_LOG`.
    #[serde(default)]
    pub log_format: LogFormat,
    /// The local socket.
    #[serde(default)]
    pub api: ApiSection,
    /// The durable store.
    #[serde(default)]
    pub store: StoreConfig,
    /// How the nodes of a cluster share the operators' binds (cluster mode only).
    #[serde(default)]
    pub cluster: crate::cluster::ClusterConfig,
    /// Lanes, retries and default deadlines.
    #[serde(default)]
    pub scheduler: SchedulerConfig,
    /// How the sending stage paces recipients.
    #[serde(default)]
    pub sending: SendingConfig,
    /// Alphabets and concatenation.
    #[serde(default)]
    pub encoding: EncodingConfig,
    /// Number prefix → operator.
    #[serde(default)]
    pub routes: RouteConfig,
    /// Working days and holidays.
    #[serde(default)]
    pub calendar: CalendarConfig,
    /// Named message templates.
    #[serde(default)]
    pub templates: TemplatesConfig,
    /// One-time passwords.
    #[serde(default)]
    pub otp: OtpConfig,
    /// The optional Prometheus endpoint.
    #[serde(default)]
    pub metrics: crate::metrics::MetricsConfig,
    /// The embedded simulator, started when an operator's host is `embedded`.
    #[serde(default)]
    pub simulator: smpp_sim::SimConfig,
    /// The operators' SMSCs.
    #[serde(default, rename = "operator")]
    pub operators: Vec<OperatorConfig>,
}

/// Log line format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// `[api]`: the socket path and the server's limits.
#[derive(Clone, Debug, Deserialize)]
pub struct ApiSection {
    /// The Unix socket (default `data/khabar.sock`).
    #[serde(default = "default_socket_path")]
    pub socket_path: PathBuf,
    /// Refuse new messages with `queue_full` beyond this many queued (none: no limit).
    #[serde(default = "default_max_queue_depth")]
    pub max_queue_depth: Option<u64>,
    /// Line, connection and timeout limits.
    #[serde(flatten)]
    pub server: ServerConfig,
}

impl Default for ApiSection {
    fn default() -> Self {
        ApiSection {
            socket_path: default_socket_path(),
            max_queue_depth: default_max_queue_depth(),
            server: ServerConfig::default(),
        }
    }
}

/// `[sending]`: per-recipient limits and dispatch.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SendingConfig {
    /// Messages of kinds other than `otp` per recipient per hour (0: no limit). One-time
    /// passwords are limited by `[otp] max_per_hour`, counted when they are accepted.
    pub per_recipient_per_hour: u32,
    /// How long the sending stage sleeps when nothing is due and nothing woke it.
    #[serde(with = "humantime_serde")]
    pub idle_poll: Duration,
    /// How long a receipt that matches no message yet (it came before its submit_sm_resp was
    /// recorded, or names an id never stored) stays parked in the store for matching. It is
    /// answered at once either way; after the hold it is dropped.
    #[serde(with = "humantime_serde")]
    pub early_receipt_hold: Duration,
    /// Most messages the sending stage claims from the store in one trip (OTPs have their
    /// own loop and never wait behind such a batch).
    pub claim_batch: usize,
}

impl Default for SendingConfig {
    fn default() -> Self {
        SendingConfig {
            per_recipient_per_hour: 0,
            idle_poll: Duration::from_millis(50),
            early_receipt_hold: Duration::from_secs(60),
            claim_batch: 64,
        }
    }
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("data")
}
fn default_socket_path() -> PathBuf {
    PathBuf::from(crate::api::DEFAULT_SOCKET_PATH)
}
fn default_max_queue_depth() -> Option<u64> {
    Some(10_000_000)
}

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown or mistyped keys.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the line.
        message: String,
    },
    /// The values do not fit together.
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    /// Reads and checks `path`; relative paths in it become relative to its directory.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut config = Config::parse(&text).map_err(|message| ConfigError::Parse {
            path: path.to_owned(),
            message,
        })?;
        let base = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        config.rebase(base);
        config.check()?;
        Ok(config)
    }

    /// Parses TOML text (paths left as written).
    pub fn parse(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Makes the relative paths relative to `base`; the store lives under the data dir
    /// unless `[store] path` is set (the OTP key file's relative path is under the data dir).
    fn rebase(&mut self, base: &Path) {
        let under = |p: &Path| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };
        self.data_dir = under(&self.data_dir);
        self.api.socket_path = under(&self.api.socket_path);
        for file in &mut self.calendar.files {
            *file = under(file);
        }
        for op in &mut self.operators {
            for file in [&mut op.ca_file, &mut op.password_file]
                .into_iter()
                .flatten()
            {
                *file = under(file);
            }
        }
        for file in [
            &mut self.store.postgres.password_file,
            &mut self.store.postgres.ca_file,
        ]
        .into_iter()
        .flatten()
        {
            *file = under(file);
        }
        if self.store.path == StoreConfig::default().path {
            self.store.path = self.data_dir.join("store");
        } else {
            self.store.path = under(&self.store.path);
        }
    }

    /// Checks what serde cannot: at least one operator, unique names, routes that exist.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.operators.is_empty() {
            return Err(ConfigError::Invalid(
                "no [[operator]] is configured; add one (host = \"embedded\" uses the bundled simulator)"
                    .into(),
            ));
        }
        let mut names = std::collections::BTreeSet::new();
        for op in &self.operators {
            if !names.insert(op.name.as_str()) {
                return Err(ConfigError::Invalid(format!(
                    "operator {:?} is configured twice",
                    op.name
                )));
            }
            if op.ca_file.is_some() && !op.tls {
                return Err(ConfigError::Invalid(format!(
                    "operator {}: ca_file is set but tls is not: set tls = true to connect over \
                     TLS, or remove ca_file",
                    op.name
                )));
            }
            if op.binds == 0 || op.window == 0 || op.tps == 0 {
                return Err(ConfigError::Invalid(format!(
                    "operator {}: binds, window and tps must be at least 1",
                    op.name
                )));
            }
            if op.is_embedded() && !self.simulator.operators.iter().any(|s| s.name == op.name) {
                return Err(ConfigError::Invalid(format!(
                    "operator {} uses host = \"embedded\" but [simulator] has no operator of that name",
                    op.name
                )));
            }
        }
        let router = crate::router::Router::new(&self.routes)
            .map_err(|e| ConfigError::Invalid(format!("[routes]: {e}")))?;
        for name in router.operators() {
            if !names.contains(name) {
                return Err(ConfigError::Invalid(format!(
                    "[routes] sends numbers to operator {name:?}, which has no [[operator]] section"
                )));
            }
        }
        Ok(())
    }

    /// True when any operator is the embedded simulator.
    pub fn needs_simulator(&self) -> bool {
        self.operators.iter().any(OperatorConfig::is_embedded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repository_config_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml");
        let config = Config::load(&path).expect("config.toml loads");
        assert!(config.needs_simulator());
        assert!(config.store.path.starts_with(&config.data_dir));
    }

    #[test]
    fn files_named_in_the_config_are_found_from_its_directory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(
            &path,
            "[calendar]\nfiles = [\"kz-2028.toml\"]\n[[operator]]\nname = \"kcell\"\n\
             host = \"smsc.example\"\nport = 3550\nsystem_id = \"kcell\"\n\
             password_file = \"kcell.pass\"\ntls = true\nca_file = \"certs/kcell-ca.pem\"\n",
        )
        .unwrap();
        let mut config = Config::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
        config.rebase(dir.path());
        let op = &config.operators[0];
        assert_eq!(
            op.ca_file.as_deref(),
            Some(dir.path().join("certs/kcell-ca.pem").as_path())
        );
        assert_eq!(
            op.password_file.as_deref(),
            Some(dir.path().join("kcell.pass").as_path())
        );
        assert_eq!(config.calendar.files, [dir.path().join("kz-2028.toml")]);
    }

    #[test]
    fn unknown_keys_and_missing_operators_are_refused() {
        assert!(Config::parse("data_dri = \"x\"").is_err());
        let empty = Config::parse("").unwrap();
        assert!(matches!(empty.check(), Err(ConfigError::Invalid(_))));
    }

    #[test]
    fn a_ca_file_without_tls_is_refused_rather_than_ignored() {
        let config = Config::parse(
            "[[operator]]\nname = \"kcell\"\nhost = \"smsc.example\"\nport = 3550\n\
             system_id = \"kcell\"\npassword = \"x\"\nca_file = \"ca.pem\"\n",
        )
        .unwrap();
        let refused = config.check().unwrap_err().to_string();
        assert!(
            refused.contains("operator kcell: ca_file is set but tls is not"),
            "{refused}"
        );
    }
}
