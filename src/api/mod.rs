//! The upstream socket API: newline-delimited JSON over a Unix domain socket.
//!
//! Government systems hand khabar their messages here and read back what happened to them.
//! `docs/PROTOCOL.md` is the user-facing description; this module is its implementation:
//!
//! - [`protocol`]: the wire format — request parsing with precise error codes, reply payloads;
//! - [`views`]: what the API shows of messages, events and the daemon's status;
//! - [`backend`]: the trait the daemon implements to serve requests from its store;
//! - [`server`]: the listener — socket file, peer credentials, limits, pipelining, streaming;
//! - [`client`]: a small async client used by the CLI and the tests.

pub mod backend;
pub mod client;
pub mod error;
pub mod protocol;
pub mod serde_fmt;
pub mod server;
pub mod views;

pub use backend::Backend;
pub use client::{Client, ClientError};
pub use error::{ApiError, ErrorCode};
pub use server::{ServerConfig, ServerError, serve};

/// Where the socket lives when the config does not say, relative to the config file's
/// directory (the daemon and the CLI agree on this default).
pub const DEFAULT_SOCKET_PATH: &str = "data/khabar.sock";
