//! `[[operator]]` in config.toml: how to reach and bind to one mobile operator's SMSC.

use serde::Deserialize;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// One operator's SMSC connection settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorConfig {
    /// Route name (`kcell`, `beeline`, `tele2`), used by routes and in status.
    pub name: String,
    /// SMSC host; `embedded` means the bundled simulator started by the daemon itself.
    #[serde(default = "default_host")]
    pub host: String,
    /// SMSC port (ignored for `embedded`).
    #[serde(default = "default_port")]
    pub port: u16,
    /// SMPP system_id (at most 15 characters).
    pub system_id: String,
    /// SMPP password inline (at most 8 characters); prefer `password_file` or `password_env`.
    #[serde(default)]
    pub password: Option<Secret>,
    /// A file whose first line is the password (relative: from config.toml's directory).
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// An environment variable holding the password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// SMPP system_type.
    #[serde(default)]
    pub system_type: String,
    /// `transceiver` (one bind both ways) or `transmitter_receiver` (separate binds).
    #[serde(default)]
    pub bind_mode: BindMode,
    /// Number of binds (sessions) to keep open.
    #[serde(default = "default_binds")]
    pub binds: u32,
    /// Submits outstanding per bind.
    #[serde(default = "default_window")]
    pub window: u32,
    /// The operator's contracted rate, in SMS parts per second over all binds.
    #[serde(default = "default_tps")]
    pub tps: u32,
    /// Most urgent (OTP) jobs the binds take in a row while other jobs wait; the daemon sets
    /// it from `[scheduler.min_share]` so a flood of OTPs cannot starve the lower lanes.
    /// None: no limit.
    #[serde(skip)]
    pub urgent_run: Option<u32>,
    /// Interval between enquire_link keep-alives.
    #[serde(default = "default_enquire_link", with = "humantime_serde")]
    pub enquire_link_interval: Duration,
    /// How long to wait for any response before the bind is considered hung.
    #[serde(default = "default_response_timeout", with = "humantime_serde")]
    pub response_timeout: Duration,
    /// First reconnect delay; doubles (with jitter) up to `reconnect_max`.
    #[serde(default = "default_reconnect_min", with = "humantime_serde")]
    pub reconnect_min: Duration,
    /// Longest reconnect delay.
    #[serde(default = "default_reconnect_max", with = "humantime_serde")]
    pub reconnect_max: Duration,
    /// Default sender: alphanumeric like `eGov` or a short code like `1414`.
    #[serde(default = "default_source")]
    pub source_addr: String,
    /// Sender TON; default derived from `source_addr` (5 alphanumeric, 3 short code, 1 international).
    #[serde(default)]
    pub source_ton: Option<u8>,
    /// Sender NPI; default derived from `source_addr` (0 alphanumeric, 1 otherwise).
    #[serde(default)]
    pub source_npi: Option<u8>,
    /// Concatenation of long texts: `udh8` (default), `udh16` or `sar`.
    #[serde(default)]
    pub concatenation: crate::encoding::ConcatMode,
    /// Set priority_flag on OTP submits.
    #[serde(default = "default_true")]
    pub otp_priority: bool,
    /// Connect over TLS.
    #[serde(default)]
    pub tls: bool,
    /// With `tls`: the CA certificates (PEM) to trust — exactly these, pinning the operator's
    /// own CA; without it, the public web roots. A relative path is from config.toml's
    /// directory.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

/// How an operator's sessions are bound.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BindMode {
    /// One transceiver bind carries submits and receipts.
    #[default]
    Transceiver,
    /// A transmitter bind for submits plus a receiver bind for receipts and replies.
    TransmitterReceiver,
}

/// A password that never prints.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The secret itself; call only where it is sent to the SMSC.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl OperatorConfig {
    /// A config with defaults for everything but the name and credentials.
    pub fn new(name: &str, system_id: &str, password: &str) -> Self {
        toml::from_str(&format!(
            "name = {name:?}\nsystem_id = {system_id:?}\npassword = {password:?}"
        ))
        .expect("defaults deserialize")
    }

    /// True when this operator is the daemon's own embedded simulator.
    pub fn is_embedded(&self) -> bool {
        self.host == "embedded"
    }

    /// The password from `password`, `password_file` or `password_env`, in that order.
    pub fn resolve_password(&self) -> Result<Secret, String> {
        if let Some(p) = &self.password {
            return Ok(p.clone());
        }
        if let Some(path) = &self.password_file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                format!(
                    "operator {}: cannot read password_file {}: {e}",
                    self.name,
                    path.display()
                )
            })?;
            return Ok(Secret(text.lines().next().unwrap_or("").to_string()));
        }
        if let Some(var) = &self.password_env {
            return std::env::var(var).map(Secret).map_err(|_| {
                format!(
                    "operator {}: environment variable {var} is not set",
                    self.name
                )
            });
        }
        Err(format!(
            "operator {}: no password (set password, password_file or password_env)",
            self.name
        ))
    }

    /// Sender TON and NPI, from config or derived from the sender's form.
    pub fn source_ton_npi(&self, source: &str) -> (u8, u8) {
        let derived = if source.chars().all(|c| c.is_ascii_digit()) {
            if source.len() <= 8 { (3, 1) } else { (1, 1) }
        } else {
            (5, 0)
        };
        (
            self.source_ton.unwrap_or(derived.0),
            self.source_npi.unwrap_or(derived.1),
        )
    }
}

fn default_host() -> String {
    "127.0.0.1".into()
}
fn default_port() -> u16 {
    2775
}
fn default_binds() -> u32 {
    1
}
fn default_window() -> u32 {
    100
}
fn default_tps() -> u32 {
    1000
}
fn default_enquire_link() -> Duration {
    Duration::from_secs(30)
}
fn default_response_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_reconnect_min() -> Duration {
    Duration::from_millis(200)
}
fn default_reconnect_max() -> Duration {
    Duration::from_secs(30)
}
fn default_source() -> String {
    "eGov".into()
}
fn default_true() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_never_prints() {
        let c = OperatorConfig::new("kcell", "kcell", "s3cret");
        assert!(!format!("{c:?}").contains("s3cret"));
        assert_eq!(c.resolve_password().unwrap().expose(), "s3cret");
    }

    #[test]
    fn sender_forms_choose_ton_npi() {
        let c = OperatorConfig::new("kcell", "kcell", "x");
        assert_eq!(c.source_ton_npi("eGov"), (5, 0));
        assert_eq!(c.source_ton_npi("1414"), (3, 1));
        assert_eq!(c.source_ton_npi("77011234567"), (1, 1));
    }
}
