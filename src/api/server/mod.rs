//! The socket server: owns the socket file, admits connections (peer credentials, connection
//! cap) and runs one task per connection.

mod codec;
mod connection;
mod dispatch;
mod subscription;

use crate::api::backend::Backend;
use crate::api::error::{ApiError, ErrorCode};
use crate::api::protocol::error_line;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::future::Future;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

/// The socket file's mode: owner and group may connect, others may not.
pub const SOCKET_MODE: u32 = 0o660;

/// The mode of a socket directory the server creates: the socket's group may enter it.
pub const SOCKET_DIR_MODE: u32 = 0o750;

/// Limits and access rules of the socket. Every field has a default (`[api]` in config).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerConfig {
    /// Peers whose uid is listed may connect; empty (with empty `allowed_gids`) = anyone who
    /// can open the socket file.
    pub allowed_uids: Vec<u32>,
    /// Peers whose primary gid is listed may connect.
    pub allowed_gids: Vec<u32>,
    /// Longest request line in bytes; longer ones are answered `line_too_long`. Default 1 MiB.
    pub max_line_bytes: usize,
    /// A connection with nothing to do for this long is closed. Default 5 min.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// A request line must arrive whole within this long of its first byte; a slower one is
    /// answered `slow_request` and the connection closed (a client trickling bytes cannot hold
    /// a connection). Default 10 s.
    #[serde(with = "humantime_serde")]
    pub line_timeout: Duration,
    /// A reply the client does not read within this long closes the connection. Default 30 s.
    #[serde(with = "humantime_serde")]
    pub write_timeout: Duration,
    /// Connections served at once; more are answered `too_many_connections`. Default 1024.
    pub max_connections: usize,
    /// Connections one peer uid may hold at once, so that one user cannot take every slot
    /// (capped below `max_connections`). Default 256.
    pub max_connections_per_uid: usize,
    /// Requests of one connection handled concurrently (replies still go out in order);
    /// beyond it the server stops reading that connection. Default 64.
    pub max_pipeline: usize,
    /// Most messages in one `submit_batch`. Default 10 000.
    pub max_batch: usize,
    /// Events fetched from the backend per read while streaming. Default 256.
    pub event_page: usize,
    /// How long shutdown waits for connections to finish their requests. Default 10 s.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            allowed_uids: Vec::new(),
            allowed_gids: Vec::new(),
            max_line_bytes: 1 << 20,
            idle_timeout: Duration::from_secs(300),
            line_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(30),
            max_connections: 1024,
            max_connections_per_uid: 256,
            max_pipeline: 64,
            max_batch: 10_000,
            event_page: 256,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Another process answers on the socket path.
    #[error("khabar is already running: {0} answers; stop it first")]
    AlreadyRunning(PathBuf),
    /// Something other than a socket sits at the path; it is left alone.
    #[error("{0} exists and is not a socket; refusing to replace it")]
    NotASocket(PathBuf),
    /// A file-system or socket error.
    #[error("socket {path}: {source}")]
    Io {
        /// The socket path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// State shared by the accept loop and every connection.
pub(crate) struct Shared<B> {
    pub(crate) backend: Arc<B>,
    pub(crate) config: ServerConfig,
    pub(crate) shutdown: CancellationToken,
    /// Connections open per peer uid.
    pub(crate) per_uid: Mutex<HashMap<u32, usize>>,
}

/// A bound socket, ready to [`run`](Server::run).
#[derive(Debug)]
pub struct Server {
    listener: UnixListener,
    path: PathBuf,
    config: ServerConfig,
}

impl Server {
    /// Creates the socket at `path` with mode 0660 (creating its directory if needed). A stale
    /// socket file nobody listens on is replaced; a live one is [`ServerError::AlreadyRunning`].
    pub fn bind(path: &Path, config: ServerConfig) -> Result<Server, ServerError> {
        let io = |source| ServerError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // a directory made here lets the socket's group in, whatever the umask
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(SOCKET_DIR_MODE)
                .create(dir)
                .map_err(io)?;
        }
        remove_stale(path)?;
        // Bind under a temporary name, set the mode, then rename into place: the socket never
        // appears at `path` with the umask's wider mode.
        let tmp = path.with_file_name(format!(
            ".{}.{}.tmp",
            path.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("khabar.sock"),
            std::process::id()
        ));
        let _ = std::fs::remove_file(&tmp);
        let listener = UnixListener::bind(&tmp).map_err(io)?;
        let placed = std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(SOCKET_MODE))
            .and_then(|()| std::fs::rename(&tmp, path));
        if let Err(e) = placed {
            let _ = std::fs::remove_file(&tmp);
            return Err(io(e));
        }
        info!(socket = %path.display(), "socket listening");
        Ok(Server {
            listener,
            path: path.to_path_buf(),
            config,
        })
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Serves connections until `shutdown` completes, then stops accepting, lets open
    /// connections finish their requests (up to `shutdown_grace`) and removes the socket file.
    pub async fn run<B: Backend>(self, backend: Arc<B>, shutdown: impl Future<Output = ()>) {
        let max = self.config.max_connections.max(1);
        let slots = Arc::new(Semaphore::new(max));
        let shared = Arc::new(Shared {
            backend,
            config: self.config,
            shutdown: CancellationToken::new(),
            per_uid: Mutex::default(),
        });
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _)) => admit(stream, &shared, &slots),
                    Err(e) => {
                        // Typically EMFILE: back off instead of spinning.
                        warn!(error = %e, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
            }
        }
        drop(self.listener);
        let _ = std::fs::remove_file(&self.path);
        shared.shutdown.cancel();
        let all = u32::try_from(max).unwrap_or(u32::MAX);
        if tokio::time::timeout(shared.config.shutdown_grace, slots.acquire_many(all))
            .await
            .is_err()
        {
            warn!("some connections were still open when the shutdown grace ended");
        }
        info!(socket = %self.path.display(), "socket closed");
    }
}

/// Binds `path` and serves until `shutdown` completes (see [`Server::bind`], [`Server::run`]).
pub async fn serve<B: Backend>(
    path: &Path,
    config: ServerConfig,
    backend: Arc<B>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServerError> {
    Server::bind(path, config)?.run(backend, shutdown).await;
    Ok(())
}

/// Removes a socket file nobody listens on; refuses a live socket or a non-socket file.
fn remove_stale(path: &Path) -> Result<(), ServerError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(ServerError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    if !meta.file_type().is_socket() {
        return Err(ServerError::NotASocket(path.to_path_buf()));
    }
    refuse_if_running(path)?;
    debug!(socket = %path.display(), "removing a stale socket file");
    std::fs::remove_file(path).map_err(|source| ServerError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// [`ServerError::AlreadyRunning`] when a daemon answers on `path` (the daemon asks before it
/// opens its store, whose lock it would otherwise wait for).
pub fn refuse_if_running(path: &Path) -> Result<(), ServerError> {
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err(ServerError::AlreadyRunning(path.to_path_buf()));
    }
    Ok(())
}

/// Checks the peer and the connection caps, then hands the connection to its own task.
fn admit<B: Backend>(stream: UnixStream, shared: &Arc<Shared<B>>, slots: &Arc<Semaphore>) {
    if let Err(refusal) = check_peer(&stream, &shared.config) {
        refuse(&stream, &refusal);
        return;
    }
    let uid = match stream.peer_cred() {
        Ok(cred) => cred.uid(),
        Err(e) => {
            let why = format!("cannot read the peer's credentials: {e}");
            refuse(&stream, &ApiError::new(ErrorCode::Forbidden, why));
            return;
        }
    };
    let Some(uid_slot) = UidSlot::take(shared, uid) else {
        let most = per_uid_cap(&shared.config);
        let why = format!(
            "uid {uid} already holds {most} connections, the most one user may (max_connections_per_uid); close some or try again later"
        );
        refuse(&stream, &ApiError::new(ErrorCode::TooManyConnections, why));
        return;
    };
    let Ok(slot) = slots.clone().try_acquire_owned() else {
        refuse(
            &stream,
            &ApiError::new(
                ErrorCode::TooManyConnections,
                format!(
                    "the server is at its limit of {} connections; try again later",
                    shared.config.max_connections
                ),
            ),
        );
        return;
    };
    let shared = Arc::clone(shared);
    tokio::spawn(async move {
        connection::run(stream, shared).await;
        drop(uid_slot);
        drop(slot);
    });
}

/// The per-uid cap in force: below the total, so that other users always find a slot.
fn per_uid_cap(config: &ServerConfig) -> usize {
    let total = config.max_connections.max(1);
    config
        .max_connections_per_uid
        .clamp(1, total.saturating_sub(1).max(1))
}

/// One connection counted against its peer uid; uncounted when dropped.
struct UidSlot<B> {
    shared: Arc<Shared<B>>,
    uid: u32,
}

impl<B> UidSlot<B> {
    fn take(shared: &Arc<Shared<B>>, uid: u32) -> Option<Self> {
        let mut per_uid = shared.per_uid.lock().unwrap_or_else(|p| p.into_inner());
        let held = per_uid.entry(uid).or_default();
        if *held >= per_uid_cap(&shared.config) {
            return None;
        }
        *held += 1;
        Some(UidSlot {
            shared: Arc::clone(shared),
            uid,
        })
    }
}

impl<B> Drop for UidSlot<B> {
    fn drop(&mut self) {
        let mut per_uid = self
            .shared
            .per_uid
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(held) = per_uid.get_mut(&self.uid) {
            *held = held.saturating_sub(1);
            if *held == 0 {
                per_uid.remove(&self.uid);
            }
        }
    }
}

/// SO_PEERCRED against the allow-lists (empty lists = anyone who can open the file).
fn check_peer(stream: &UnixStream, config: &ServerConfig) -> Result<(), ApiError> {
    if config.allowed_uids.is_empty() && config.allowed_gids.is_empty() {
        return Ok(());
    }
    let cred = stream.peer_cred().map_err(|e| {
        ApiError::new(
            ErrorCode::Forbidden,
            format!("cannot read the peer's credentials: {e}"),
        )
    })?;
    if config.allowed_uids.contains(&cred.uid()) || config.allowed_gids.contains(&cred.gid()) {
        return Ok(());
    }
    warn!(
        uid = cred.uid(),
        gid = cred.gid(),
        pid = cred.pid(),
        "refused a connection"
    );
    Err(ApiError::new(
        ErrorCode::Forbidden,
        format!(
            "uid {} / gid {} may not use this socket; ask the operator to add it to allowed_uids or allowed_gids",
            cred.uid(),
            cred.gid()
        ),
    ))
}

/// Tells a refused client why and closes. A fresh socket's send buffer is empty, so the
/// one-line write completes at once and never blocks the accept loop.
fn refuse(stream: &UnixStream, error: &ApiError) {
    let _ = stream.try_write(&error_line(None, error));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_reads_from_toml_with_defaults_for_the_rest() {
        let config: ServerConfig =
            toml::from_str("idle_timeout = \"2m\"\nallowed_uids = [1000]\nmax_connections = 50\n")
                .unwrap();
        assert_eq!(config.idle_timeout, Duration::from_secs(120));
        assert_eq!(config.allowed_uids, vec![1000]);
        assert_eq!(config.max_connections, 50);
        assert_eq!(
            config.max_line_bytes,
            ServerConfig::default().max_line_bytes
        );
    }
}
