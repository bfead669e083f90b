//! The simulator's error type.

use std::time::Duration;

/// Everything the simulator's API can fail with.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The configuration is unusable.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A listening socket could not be opened.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address that was asked for.
        addr: std::net::SocketAddr,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// An operator's TLS certificate or key could not be read or used.
    #[error("operator {operator}: TLS {what}: {source}")]
    Tls {
        /// The operator whose listener needs it.
        operator: String,
        /// What failed, naming the file (e.g. `cannot read cert_file /etc/kcell.pem`).
        what: String,
        /// The underlying error (I/O, PEM or rustls).
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// No operator has this name.
    #[error("no operator named {0:?}")]
    UnknownOperator(String),
    /// A mobile-originated message could not be built (bad number or text).
    #[error("cannot build the mobile-originated message: {0}")]
    InvalidMo(String),
    /// A fault setting is out of range.
    #[error("invalid fault: {0}")]
    InvalidFault(String),
    /// Waiting for a condition took longer than allowed.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The control socket failed.
    #[error("control socket: {0}")]
    Control(String),
}
