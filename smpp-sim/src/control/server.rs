//! The control socket's listener, and the client side `smpp-sim ctl` uses.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::{Request, answer};
use crate::error::SimError;
use crate::simulator::SimHandle;

/// A listening control socket; the socket file is removed when this is dropped.
#[derive(Debug)]
pub struct ControlServer {
    path: PathBuf,
    stop: CancellationToken,
}

impl ControlServer {
    /// Listens on `path` (a stale socket file left by a dead simulator is replaced; a live
    /// one is an error).
    pub async fn start(sim: SimHandle, path: &Path) -> Result<Self, SimError> {
        if path.exists() {
            if UnixStream::connect(path).await.is_ok() {
                return Err(SimError::Control(format!(
                    "{} is in use by a running simulator",
                    path.display()
                )));
            }
            let _ = std::fs::remove_file(path);
        }
        let listener = UnixListener::bind(path)
            .map_err(|e| SimError::Control(format!("cannot listen on {}: {e}", path.display())))?;
        let stop = CancellationToken::new();
        tokio::spawn(accept_loop(listener, sim, stop.clone()));
        info!(path = %path.display(), "control socket listening");
        Ok(Self {
            path: path.to_path_buf(),
            stop,
        })
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.stop.cancel();
        let _ = std::fs::remove_file(&self.path);
    }
}

async fn accept_loop(listener: UnixListener, sim: SimHandle, stop: CancellationToken) {
    loop {
        let accepted = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _)) => {
                tokio::spawn(serve_client(stream, sim.clone(), stop.clone()));
            }
            Err(e) => {
                warn!(error = %e, "control accept failed");
                break;
            }
        }
    }
}

async fn serve_client(stream: UnixStream, sim: SimHandle, stop: CancellationToken) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    loop {
        let line = tokio::select! {
            _ = stop.cancelled() => break,
            line = lines.next_line() => line,
        };
        let Ok(Some(line)) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        let reply = match serde_json::from_str::<Request>(&line) {
            Ok(request) => answer(&sim, request),
            Err(e) => json!({ "ok": false, "error": format!("bad request: {e}") }),
        };
        let mut text = reply.to_string();
        text.push('\n');
        if write.write_all(text.as_bytes()).await.is_err() {
            break;
        }
    }
}

/// Sends one request to the control socket at `path` and returns the answer.
pub async fn request(path: &Path, request: &Request) -> Result<Value, SimError> {
    let stream = UnixStream::connect(path).await.map_err(|e| {
        SimError::Control(format!(
            "cannot connect to {} (is smpp-sim running?): {e}",
            path.display()
        ))
    })?;
    let (read, mut write) = stream.into_split();
    let mut line = serde_json::to_string(request).map_err(|e| SimError::Control(e.to_string()))?;
    line.push('\n');
    write
        .write_all(line.as_bytes())
        .await
        .map_err(|e| SimError::Control(e.to_string()))?;
    let answer = BufReader::new(read)
        .lines()
        .next_line()
        .await
        .map_err(|e| SimError::Control(e.to_string()))?
        .ok_or_else(|| SimError::Control("the simulator closed the connection".into()))?;
    serde_json::from_str(&answer).map_err(|e| SimError::Control(format!("bad answer: {e}")))
}

/// The default control socket path: `$TMPDIR/smpp-sim.sock`.
pub fn default_socket_path() -> PathBuf {
    std::env::temp_dir().join("smpp-sim.sock")
}
