//! Shared by the `api_*` tests: a socket server on a temporary path over the fake backend.
// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

pub mod fake;
pub mod fake_otp;

use fake::FakeBackend;
use khabar::api::client::Answer;
use khabar::api::server::Server;
use khabar::api::{Client, ServerConfig};
use serde_json::{Value, json};
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Generous bound for anything a test waits on (a loaded 2-core machine is slow).
pub const PATIENCE: Duration = Duration::from_secs(60);

/// A running server and its fake backend.
pub struct TestServer {
    /// The socket path.
    pub path: PathBuf,
    /// The backend behind it.
    pub backend: Arc<FakeBackend>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    /// Keeps the directory of the socket alive.
    pub dir: tempfile::TempDir,
}

impl TestServer {
    /// Starts a server with `config` over a fake backend allowing `max_depth` queued messages.
    pub async fn start_with(config: ServerConfig, max_depth: usize) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("khabar.sock");
        let backend = Arc::new(FakeBackend::new(max_depth));
        let server = Server::bind(&path, config).expect("bind");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(Arc::clone(&backend), async {
            let _ = stopped.await;
        }));
        TestServer {
            path,
            backend,
            stop: Some(stop),
            task: Some(task),
            dir,
        }
    }

    /// Starts a server with default limits.
    pub async fn start() -> TestServer {
        Self::start_with(ServerConfig::default(), 1_000_000).await
    }

    /// A new client connection.
    pub async fn client(&self) -> Client {
        within(Client::connect(&self.path)).await.expect("connect")
    }

    /// Stops the server and waits until it has finished.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            within(task).await.expect("server task");
        }
    }
}

/// Awaits `f`, failing the test if it takes longer than [`PATIENCE`].
pub async fn within<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(PATIENCE, f)
        .await
        .expect("timed out waiting")
}

/// Sends a request and returns its reply.
pub async fn ask(client: &mut Client, request: Value) -> Answer {
    within(client.request(request)).await.expect("reply")
}

/// A submit request for a valid number.
pub fn submit(text: &str) -> Value {
    json!({"op": "submit", "to": "+77011234567", "text": text})
}

/// The error code of a reply, as its wire name.
pub fn code_of(reply: &Answer) -> String {
    match &reply.result {
        Ok(payload) => panic!("expected an error, got {payload:?}"),
        Err(e) => e.code.as_str().to_string(),
    }
}
