//! Configuration: the simulated operators, receipt behaviour and subscriber replies.
//!
//! Every struct deserializes from TOML with defaults for every field, so an empty table
//! (`[simulator]` inside khabar's config, or an empty file) starts the three default operators.
//! An operator listens for plain SMPP unless it has a `tls` table ([`TlsConfig`]): then its
//! port speaks SMPP over TLS only.

use std::net::IpAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::SimError;
use crate::faults::FaultSettings;

mod receipts;

pub use receipts::{OutcomeMix, ReceiptConfig};

/// Default password of every operator that does not set one.
pub const DEFAULT_PASSWORD: &str = "secret";

/// The whole simulator: which operators to run and how they behave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
    /// Address every operator listens on (default `127.0.0.1`).
    pub host: IpAddr,
    /// The simulated operators; default `kcell`, `beeline`, `tele2` on ports 2775, 2776, 2777.
    pub operators: Vec<OperatorConfig>,
    /// Receipt behaviour for operators that do not override it.
    pub receipts: ReceiptConfig,
    /// Simulated subscribers answering messages (mobile-originated replies).
    pub replies: Vec<ReplyRule>,
    /// How many received messages are kept in memory (oldest dropped first).
    pub max_messages: usize,
    /// Largest PDU accepted, in octets (longer `command_length` closes the connection).
    pub max_pdu_length: usize,
    /// Whether the documented test numbers (ending 0000..0004) have fixed outcomes.
    pub test_numbers: bool,
    /// Unix socket for `smpp-sim ctl` (binary only; the library ignores it).
    pub control_socket: Option<PathBuf>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            host: IpAddr::from([127, 0, 0, 1]),
            operators: vec![
                OperatorConfig::new("kcell", 2775),
                OperatorConfig::new("beeline", 2776),
                OperatorConfig::new("tele2", 2777),
            ],
            receipts: ReceiptConfig::default(),
            replies: Vec::new(),
            max_messages: 1_000_000,
            max_pdu_length: 70_000,
            test_numbers: true,
            control_socket: None,
        }
    }
}

impl SimConfig {
    /// The default operators, each moved to an ephemeral port (for tests and embedding).
    pub fn ephemeral() -> Self {
        let mut config = Self::default();
        for operator in &mut config.operators {
            operator.port = 0;
        }
        config
    }

    /// A config with exactly one operator (`name`, system_id = name, password `secret`) on an
    /// ephemeral port.
    pub fn single(name: &str) -> Self {
        Self {
            operators: vec![OperatorConfig::new(name, 0)],
            ..Self::default()
        }
    }

    /// Parses a TOML document.
    pub fn from_toml(text: &str) -> Result<Self, SimError> {
        toml::from_str(text).map_err(|e| SimError::Config(e.to_string()))
    }

    /// Reads and parses a TOML file; relative TLS certificate and key paths are taken from
    /// the file's directory.
    pub fn from_file(path: &std::path::Path) -> Result<Self, SimError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| SimError::Config(format!("cannot read {}: {e}", path.display())))?;
        let mut config = Self::from_toml(&text)?;
        if let Some(dir) = path.parent() {
            for tls in config.operators.iter_mut().filter_map(|o| o.tls.as_mut()) {
                tls.rebase(dir);
            }
        }
        Ok(config)
    }

    /// Checks what would make the simulator misbehave: duplicate names or ports, credentials
    /// longer than SMPP allows, impossible shares.
    pub fn validate(&self) -> Result<(), SimError> {
        if self.operators.is_empty() {
            return Err(SimError::Config("no operators configured".into()));
        }
        if self.max_messages == 0 {
            return Err(SimError::Config("max_messages must be at least 1".into()));
        }
        if self.max_pdu_length < 64 {
            return Err(SimError::Config(
                "max_pdu_length must be at least 64".into(),
            ));
        }
        let mut names = std::collections::HashSet::new();
        let mut ports = std::collections::HashSet::new();
        for op in &self.operators {
            op.validate()?;
            if !names.insert(op.name.as_str()) {
                return Err(SimError::Config(format!(
                    "operator {} listed twice",
                    op.name
                )));
            }
            if op.port != 0 && !ports.insert(op.port) {
                return Err(SimError::Config(format!("port {} used twice", op.port)));
            }
        }
        self.receipts.validate()?;
        for rule in &self.replies {
            if rule.reply.is_empty() {
                return Err(SimError::Config("a reply rule has an empty reply".into()));
            }
        }
        Ok(())
    }
}

/// One simulated operator (an SMSC on its own port with its own account).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OperatorConfig {
    /// Operator name used in stats, control commands and received messages.
    pub name: String,
    /// TCP port; 0 picks an ephemeral port (the handle reports the real one).
    pub port: u16,
    /// The account's system_id (defaults to `name`; at most 15 characters).
    pub system_id: Option<String>,
    /// The account's password (at most 8 characters; default `secret`).
    pub password: String,
    /// Most simultaneous binds of this system_id; one more gets ESME_RALYBND.
    pub max_binds: usize,
    /// Receipt behaviour for this operator (default: the simulator-wide `receipts`).
    pub receipts: Option<ReceiptConfig>,
    /// Faults switched on from the start (normally none).
    pub faults: FaultSettings,
    /// Serve this operator's port over TLS (SMPP over TLS, `smpps://`) with this certificate
    /// and key; plain SMPP when absent.
    pub tls: Option<TlsConfig>,
}

/// An operator's TLS listener: the certificate it presents and its private key, both PEM.
///
/// In TOML: `tls = { cert_file = "kcell.pem", key_file = "kcell.key" }` in an `[[operators]]`
/// table. A relative path is taken from the configuration file's directory when the config
/// comes from [`SimConfig::from_file`], otherwise from the working directory. The files are
/// read when the simulator starts; one that cannot be read or parsed stops it from starting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The server certificate first, then any intermediate CA certificates (PEM).
    pub cert_file: PathBuf,
    /// The certificate's private key (PEM: PKCS#8, PKCS#1 RSA or SEC1 EC).
    pub key_file: PathBuf,
}

impl TlsConfig {
    /// Makes relative paths relative to `dir`.
    fn rebase(&mut self, dir: &std::path::Path) {
        for file in [&mut self.cert_file, &mut self.key_file] {
            if file.is_relative() {
                *file = dir.join(&*file);
            }
        }
    }
}

impl Default for OperatorConfig {
    fn default() -> Self {
        Self::new("operator", 0)
    }
}

impl OperatorConfig {
    /// An operator with default credentials (system_id = name, password `secret`).
    pub fn new(name: &str, port: u16) -> Self {
        Self {
            name: name.to_string(),
            port,
            system_id: None,
            password: DEFAULT_PASSWORD.to_string(),
            max_binds: 8,
            receipts: None,
            faults: FaultSettings::default(),
            tls: None,
        }
    }

    /// The system_id binds must present.
    pub fn system_id(&self) -> &str {
        self.system_id.as_deref().unwrap_or(&self.name)
    }

    fn validate(&self) -> Result<(), SimError> {
        let bad = |what: String| Err(SimError::Config(format!("operator {}: {what}", self.name)));
        if self.name.is_empty() {
            return Err(SimError::Config("an operator has an empty name".into()));
        }
        let sid = self.system_id();
        if sid.is_empty() || sid.len() > 15 || !sid.is_ascii() {
            return bad("system_id must be 1-15 ASCII characters".into());
        }
        if self.password.len() > 8 || !self.password.is_ascii() {
            return bad("password must be at most 8 ASCII characters".into());
        }
        if self.max_binds == 0 {
            return bad("max_binds must be at least 1".into());
        }
        if let Some(r) = &self.receipts {
            r.validate()?;
        }
        if let Some(tls) = &self.tls
            && (tls.cert_file.as_os_str().is_empty() || tls.key_file.as_os_str().is_empty())
        {
            return bad("tls needs both cert_file and key_file".into());
        }
        self.faults
            .validate()
            .or_else(|e| bad(format!("faults: {e}")))
    }
}

/// A simulated subscriber: "reply `reply` after `delay_ms` to messages containing `contains`".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReplyRule {
    /// Text the received message must contain (case-insensitive; empty matches every message).
    pub contains: String,
    /// The reply text (sent as GSM 7-bit when it fits, otherwise UCS-2).
    pub reply: String,
    /// Delay between the complete message and the reply, in milliseconds.
    pub delay_ms: u64,
    /// Only messages sent through this operator (default: any operator).
    pub operator: Option<String>,
}

impl Default for ReplyRule {
    fn default() -> Self {
        Self {
            contains: "?".into(),
            reply: "Иә".into(),
            delay_ms: 2000,
            operator: None,
        }
    }
}

impl ReplyRule {
    /// Whether this rule answers `text` received by `operator`.
    pub fn matches(&self, operator: &str, text: &str) -> bool {
        if self.operator.as_deref().is_some_and(|o| o != operator) {
            return false;
        }
        self.contains.is_empty() || text.to_lowercase().contains(&self.contains.to_lowercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_table_gives_three_operators() {
        let config = SimConfig::from_toml("").unwrap();
        let names: Vec<_> = config.operators.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["kcell", "beeline", "tele2"]);
        config.validate().unwrap();
    }

    #[test]
    fn operator_defaults_fill_in() {
        let config = SimConfig::from_toml(
            "[[operators]]\nname = \"altel\"\nport = 0\n[receipts]\nmin_delay_ms = 5\nmax_delay_ms = 5\n",
        )
        .unwrap();
        assert_eq!(config.operators[0].system_id(), "altel");
        assert_eq!(config.operators[0].password, DEFAULT_PASSWORD);
        assert_eq!(config.receipts.min_delay_ms, 5);
        config.validate().unwrap();
    }

    #[test]
    fn rejects_long_password_and_duplicate_names() {
        let mut config = SimConfig::ephemeral();
        config.operators[0].password = "123456789".into();
        assert!(config.validate().is_err());
        let mut config = SimConfig::ephemeral();
        config.operators[1].name = "kcell".into();
        assert!(config.validate().is_err());
    }

    #[test]
    fn the_example_file_parses_and_validates() {
        let config = SimConfig::from_toml(include_str!("../../smpp-sim.example.toml")).unwrap();
        config.validate().unwrap();
        assert_eq!(config.operators.len(), 3);
        let tele2 = &config.operators[2];
        assert_eq!(tele2.receipts.as_ref().map(|r| r.max_delay_ms), Some(5000));
        assert_eq!(config.replies[0].reply, "Иә");
    }

    #[test]
    fn tls_table_parses_and_relative_paths_follow_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sim.toml");
        std::fs::write(
            &path,
            "[[operators]]\nname = \"kcell\"\ntls = { cert_file = \"certs/kcell.pem\", key_file = \"/etc/kcell.key\" }\n",
        )
        .unwrap();
        let config = SimConfig::from_file(&path).unwrap();
        let tls = config.operators[0].tls.as_ref().unwrap();
        assert_eq!(tls.cert_file, dir.path().join("certs/kcell.pem"));
        assert_eq!(tls.key_file, PathBuf::from("/etc/kcell.key"));
        config.validate().unwrap();
        assert!(
            SimConfig::from_toml("[[operators]]\nname = \"x\"\ntls = { cert_file = \"a\" }\n")
                .is_err()
        );
    }

    #[test]
    fn reply_rule_matches_case_insensitively() {
        let rule = ReplyRule {
            contains: "ИӘ".into(),
            ..ReplyRule::default()
        };
        assert!(rule.matches("kcell", "жауап: иә"));
        assert!(!rule.matches("kcell", "жоқ"));
    }
}
