//! Shared by the `daemon_backend*` tests: a real store with a [`GatewayBackend`] over it,
//! served by the real socket server on a temporary path.
// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

use khabar::api::protocol::SubmitOk;
use khabar::api::server::Server;
use khabar::api::views::StatusReport;
use khabar::api::{ApiError, Client, ServerConfig};
use khabar::calendar::{Calendar, CalendarConfig};
use khabar::daemon::backend::{BackendParts, GatewayBackend};
use khabar::encoding::EncodingConfig;
use khabar::message::now_ms;
use khabar::otp::OtpConfig;
use khabar::router::{RouteConfig, Router};
use khabar::scheduler::{Scheduler, SchedulerConfig};
use khabar::store::{Store, StoreConfig};
use khabar::templates::{Templates, TemplatesConfig};
use serde_json::Value;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;

/// Generous bound for anything a test waits on.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// Awaits `f`, failing the test if it takes longer than [`PATIENCE`].
pub async fn within<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(PATIENCE, f)
        .await
        .expect("timed out waiting")
}

/// Polls `check` until it returns Some, for up to [`PATIENCE`].
pub async fn eventually<T, F: Future<Output = Option<T>>>(mut check: impl FnMut() -> F) -> T {
    within(async {
        loop {
            if let Some(found) = check().await {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
}

/// Opens the store at `path` off the async threads.
pub async fn open_store(path: &Path) -> Result<Store, khabar::store::StoreError> {
    let config = StoreConfig::at(path);
    tokio::task::spawn_blocking(move || Store::open(&config))
        .await
        .expect("open task")
}

/// A store, a backend over it and the socket server in front.
pub struct Gateway {
    /// Holds the store and the socket.
    pub dir: tempfile::TempDir,
    /// The socket path.
    pub socket: PathBuf,
    /// The scheduler over the store (tests drive messages through their life with it).
    pub scheduler: Arc<Scheduler>,
    /// Notified by the backend after every newly stored message.
    pub wake: Arc<Notify>,
    stop: oneshot::Sender<()>,
    server: JoinHandle<()>,
}

impl Gateway {
    /// Starts a gateway allowing `max_queue_depth` messages not yet final.
    pub async fn start(max_queue_depth: Option<u64>) -> Gateway {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = open_store(&dir.path().join("store")).await.expect("store");
        let scheduler = Arc::new(Scheduler::new(store, SchedulerConfig::default()));
        let wake = Arc::new(Notify::new());
        let backend = Arc::new(GatewayBackend::new(BackendParts {
            scheduler: scheduler.clone(),
            router: Arc::new(Router::new(&RouteConfig::default()).expect("router")),
            templates: Arc::new(Templates::new(&TemplatesConfig::default()).expect("templates")),
            calendar: Arc::new(Calendar::new(&CalendarConfig::default()).expect("calendar")),
            encoding: EncodingConfig::default(),
            max_queue_depth,
            operators: Arc::new(Vec::new),
            otp: None,
            otp_config: OtpConfig::default(),
            otp_language: khabar::api::protocol::Language::Kk,
            wake: wake.clone(),
            started_at: now_ms(),
            lease_ttl: khabar::cluster::ClusterConfig::default().lease_ttl,
        }));
        let socket = dir.path().join("khabar.sock");
        let server = Server::bind(&socket, ServerConfig::default()).expect("bind");
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(server.run(backend, async {
            let _ = stopped.await;
        }));
        Gateway {
            dir,
            socket,
            scheduler,
            wake,
            stop,
            server,
        }
    }

    /// A new connection to the socket.
    pub async fn client(&self) -> Client {
        within(Client::connect(&self.socket))
            .await
            .expect("connect")
    }

    /// The store behind the backend.
    pub fn store(&self) -> &Store {
        self.scheduler.store()
    }

    /// The status report, over a new connection.
    pub async fn status(&self) -> StatusReport {
        let mut client = self.client().await;
        within(client.status())
            .await
            .expect("reply")
            .expect("status")
    }

    /// Stops the server, closes the store and opens it again from disk.
    pub async fn reopen(self) -> (tempfile::TempDir, Store) {
        let _ = self.stop.send(());
        within(self.server).await.expect("server task");
        drop(self.scheduler);
        let path = self.dir.path().join("store");
        // background readers may hold the old store for a moment after the backend is gone
        let store = eventually(|| async { open_store(&path).await.ok() }).await;
        (self.dir, store)
    }
}

/// Submits one message object.
pub async fn submit(client: &mut Client, message: Value) -> Result<SubmitOk, ApiError> {
    within(client.submit(message)).await.expect("reply")
}

/// The error of a refused submit.
pub async fn refused(client: &mut Client, message: Value) -> ApiError {
    match submit(client, message).await {
        Ok(ok) => panic!("expected a refusal, got {ok:?}"),
        Err(e) => e,
    }
}
