//! The control socket: newline-delimited JSON over a Unix socket, so a shell (`smpp-sim ctl`,
//! `socat`, `nc -U`) can read stats, inject MO and switch faults on a running simulator.
//!
//! Requests (one JSON object per line) and their answers:
//!
//! | request | answer |
//! | --- | --- |
//! | `{"cmd":"stats"}` | `{"ok":true,"stats":[{"operator":"kcell","submits":3,…},…]}` |
//! | `{"cmd":"operators"}` | `{"ok":true,"operators":[{"name":"kcell","addr":"127.0.0.1:2775",…}]}` |
//! | `{"cmd":"messages","last":10}` | `{"ok":true,"messages":[{"operator":"kcell","text":…},…]}` |
//! | `{"cmd":"clear"}` | `{"ok":true}` |
//! | `{"cmd":"inject_mo","operator":"kcell","from":"77011234567","to":"1414","text":"Иә"}` | `{"ok":true,"parts":1}` |
//! | `{"cmd":"fault","operator":"kcell","kind":"throttle","value":0.1}` | `{"ok":true,"faults":{…}}` |
//! | `{"cmd":"faults","operator":"kcell"}` | `{"ok":true,"faults":{…}}` |
//!
//! Any failure answers `{"ok":false,"error":"…"}` and the connection stays usable.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::error::SimError;
use crate::faults::Fault;
use crate::simulator::SimHandle;

/// One control request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// Counters of every operator.
    Stats,
    /// Addresses and credentials.
    Operators,
    /// The newest received messages.
    Messages {
        /// How many (default 20).
        #[serde(default = "default_last")]
        last: usize,
    },
    /// Forget received messages.
    Clear,
    /// Send a mobile-originated message.
    InjectMo {
        /// Operator name.
        operator: String,
        /// The subscriber's number.
        from: String,
        /// The service number or sender id it replies to.
        to: String,
        /// The text.
        text: String,
    },
    /// Switch one fault.
    Fault {
        /// Operator name.
        operator: String,
        /// `throttle`, `throttle-tps`, `queue-full`, `delay`, `drop-after`,
        /// `drop-probability`, `hang`, `down`, `up` or `clear`.
        kind: String,
        /// The value, when the kind takes one (number or string).
        #[serde(default)]
        value: Option<Value>,
    },
    /// Current fault switches of an operator.
    Faults {
        /// Operator name.
        operator: String,
    },
}

fn default_last() -> usize {
    20
}

/// Answers one request against a running simulator.
pub fn answer(sim: &SimHandle, request: Request) -> Value {
    let result: Result<Value, SimError> = (|| match request {
        Request::Stats => Ok(json!({ "stats": sim.stats() })),
        Request::Operators => {
            let ops: Vec<Value> = sim
                .operators()
                .into_iter()
                .map(|o| {
                    json!({
                        "name": o.name,
                        "addr": o.addr.to_string(),
                        "system_id": o.system_id,
                    })
                })
                .collect();
            Ok(json!({ "operators": ops }))
        }
        Request::Messages { last } => Ok(json!({ "messages": sim.last_messages(last) })),
        Request::Clear => {
            sim.clear_messages();
            Ok(json!({}))
        }
        Request::InjectMo {
            operator,
            from,
            to,
            text,
        } => {
            let parts = sim.inject_mo(&operator, &from, &to, &text)?;
            Ok(json!({ "parts": parts }))
        }
        Request::Fault {
            operator,
            kind,
            value,
        } => {
            let value = value.map(|v| match v {
                Value::String(s) => s,
                other => other.to_string(),
            });
            let fault = Fault::parse(&kind, value.as_deref())?;
            sim.apply_fault(&operator, &fault)?;
            faults_json(sim, &operator)
        }
        Request::Faults { operator } => faults_json(sim, &operator),
    })();
    match result {
        Ok(Value::Object(mut fields)) => {
            fields.insert("ok".into(), Value::Bool(true));
            Value::Object(fields)
        }
        Ok(other) => json!({ "ok": true, "result": other }),
        Err(e) => json!({ "ok": false, "error": e.to_string() }),
    }
}

/// The fault switches of `operator`, with the time left of a hang.
fn faults_json(sim: &SimHandle, operator: &str) -> Result<Value, SimError> {
    let faults = sim.faults(operator)?;
    let hang = faults.hang_remaining().map(|d| d.as_millis() as u64);
    Ok(json!({ "faults": faults, "hang_remaining_ms": hang }))
}

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
