//! Helpers for the end-to-end tests: a real smpp-sim on 127.0.0.1 ephemeral ports and a real
//! khabar daemon (in-process or as the `khabar` binary) configured to use it.
#![allow(dead_code)] // each test file uses a different subset

use khabar::api::client::Client;
use khabar::api::protocol::MessageRef;
use khabar::api::views::MessageView;
use khabar::config::Config;
use khabar::message::MessageId;
use smpp_sim::{SimConfig, SimHandle, Simulator};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The longest a test waits for anything (generous: CI machines are slow and shared).
pub const PATIENCE: Duration = Duration::from_secs(90);

/// A simulator with the three default operators on ephemeral ports and quick receipts.
pub async fn simulator() -> SimHandle {
    let mut config = SimConfig::ephemeral();
    config.receipts.min_delay_ms = 10;
    config.receipts.max_delay_ms = 100;
    Simulator::start(config).await.expect("start smpp-sim")
}

/// config.toml text for a daemon in `dir` talking to `sim`; `extra` is appended.
pub fn config_text(dir: &Path, sim: &SimHandle, extra: &str) -> String {
    tuned_config_text(
        dir,
        sim,
        &Tuning {
            extra: extra.to_owned(),
            ..Tuning::default()
        },
    )
}

/// What a test may change in the generated config; `Tuning::default()` gives exactly what
/// [`config_text`] writes with no `extra`.
#[derive(Clone, Debug)]
pub struct Tuning {
    /// Lines added to the `[sending]` table (e.g. `claim_batch = 8`).
    pub sending: String,
    /// Appended after `[sending]`: whole tables such as `[scheduler.retry]`.
    pub extra: String,
    /// `binds` of every operator.
    pub binds: u32,
    /// `window` of every operator.
    pub window: u32,
    /// `tps` of every operator.
    pub tps: u32,
    /// Lines added to every `[[operator]]` table (e.g. `response_timeout = "1s"`).
    pub operator: String,
    /// `reconnect_min` of every operator.
    pub reconnect_min: &'static str,
    /// `reconnect_max` of every operator.
    pub reconnect_max: &'static str,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            sending: String::new(),
            extra: String::new(),
            binds: 2,
            window: 20,
            tps: 500,
            operator: String::new(),
            reconnect_min: "50ms",
            reconnect_max: "500ms",
        }
    }
}

/// config.toml text for a daemon in `dir` talking to `sim`, tuned by `tuning`.
pub fn tuned_config_text(dir: &Path, sim: &SimHandle, tuning: &Tuning) -> String {
    let mut text = format!(
        "data_dir = {:?}\n[api]\nsocket_path = {:?}\n[sending]\nidle_poll = \"20ms\"\n",
        dir.join("data"),
        dir.join("khabar.sock")
    );
    push_lines(&mut text, &tuning.sending);
    text.push_str(&tuning.extra);
    for op in sim.operators() {
        text.push_str(&format!(
            "\n[[operator]]\nname = {:?}\nhost = \"127.0.0.1\"\nport = {}\nsystem_id = {:?}\npassword = \"secret\"\nbinds = {}\nwindow = {}\ntps = {}\nreconnect_min = {:?}\nreconnect_max = {:?}\n",
            op.name,
            op.addr.port(),
            op.system_id,
            tuning.binds,
            tuning.window,
            tuning.tps,
            tuning.reconnect_min,
            tuning.reconnect_max,
        ));
        push_lines(&mut text, &tuning.operator);
    }
    text
}

/// Appends `lines`, ending them with a newline if they have none.
fn push_lines(text: &mut String, lines: &str) {
    text.push_str(lines);
    if !lines.is_empty() && !lines.ends_with('\n') {
        text.push('\n');
    }
}

/// Writes a tuned config file and returns its path.
pub fn write_tuned_config(dir: &Path, sim: &SimHandle, tuning: &Tuning) -> PathBuf {
    let path = dir.join("config.toml");
    std::fs::write(&path, tuned_config_text(dir, sim, tuning)).unwrap();
    path
}

/// Writes the config file and returns its path.
pub fn write_config(dir: &Path, sim: &SimHandle, extra: &str) -> PathBuf {
    let path = dir.join("config.toml");
    std::fs::write(&path, config_text(dir, sim, extra)).unwrap();
    path
}

/// A daemon running in this process.
pub struct Daemon {
    /// Its socket.
    pub socket: PathBuf,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Daemon {
    /// Starts a daemon from the config file at `path` and waits until its socket answers.
    pub async fn start(path: &Path) -> Daemon {
        let config = Config::load(path).expect("config loads");
        let socket = config.api.socket_path.clone();
        let stop = CancellationToken::new();
        let token = stop.clone();
        let mut task = tokio::spawn(async move {
            khabar::daemon::run_with(config, token)
                .await
                .expect("the daemon runs");
        });
        // a daemon that failed to start says why at once rather than after `PATIENCE`
        tokio::select! {
            () = wait_for_socket(&socket) => {}
            ended = &mut task => {
                ended.expect("the daemon starts");
                panic!("the daemon stopped before it answered");
            }
        }
        Daemon { socket, stop, task }
    }

    /// A new client connection.
    pub async fn client(&self) -> Client {
        Client::connect(&self.socket).await.expect("connect")
    }

    /// Stops it the way SIGTERM does and waits until it has.
    pub async fn stop(self) {
        self.stop.cancel();
        self.task.await.expect("the daemon stops cleanly");
    }
}

/// Waits until a daemon answers on `socket`.
pub async fn wait_for_socket(socket: &Path) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Ok(mut client) = Client::connect(socket).await
            && client.status().await.is_ok_and(|s| s.is_ok())
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the daemon never answered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until message `id` is in a final state and returns it.
pub async fn wait_final(client: &mut Client, id: MessageId) -> MessageView {
    wait_for_view(client, id, |view| view.state.is_final()).await
}

/// Waits (up to `PATIENCE`) until message `id`'s view satisfies `done`, and returns it.
pub async fn wait_for_view(
    client: &mut Client,
    id: MessageId,
    done: impl Fn(&MessageView) -> bool,
) -> MessageView {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let view = client
            .get(&MessageRef::Id(id))
            .await
            .expect("socket")
            .expect("known message");
        if done(&view) {
            return view;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "message {id} is still {:?}",
            view.state
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Submits one message and returns its id.
pub async fn submit(client: &mut Client, to: &str, text: &str, kind: &str) -> MessageId {
    client
        .submit(serde_json::json!({"to": to, "text": text, "kind": kind}))
        .await
        .expect("socket")
        .expect("accepted")
        .message_id
}

/// A TCP port on 127.0.0.1 free just now (take it after the simulator has bound its own).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the `khabar` binary with the config file at `config` (its warnings and errors on
/// this process's stderr).
pub fn start_binary(config: &Path) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_khabar"))
        .args(["run", "--config"])
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("start khabar")
}

/// The `[store]` tables that put a daemon on the PostgreSQL at 127.0.0.1:`port` (database
/// `postgres`, as test-postgres's user) as node `node`; `more` is added to `[store.postgres]`.
pub fn cluster_store(port: u16, node: &str, more: &str) -> String {
    format!(
        "[store]\nengine = \"postgres\"\n[store.postgres]\nport = {port}\ndatabase = \"postgres\"\n\
         user = \"khabar\"\nnode = \"{node}\"\n{more}"
    )
}

/// The `[otp]` table that gives a node the key file `key` (an absolute path): the nodes of a
/// cluster must share one (a node with another key refuses to start).
pub fn otp_key(key: &Path) -> String {
    format!("[otp]\nsecret_file = {:?}\n", key.display().to_string())
}

/// Sends SIGTERM to a daemon started as the `khabar` binary.
pub fn sigterm(child: &std::process::Child) {
    // SAFETY: kill only sends a signal to the child's pid
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
}

/// Waits (up to `PATIENCE`) until a `khabar` child has exited, and checks it exited 0.
pub async fn wait_exit_ok(mut child: std::process::Child) {
    let waited = tokio::task::spawn_blocking(move || child.wait());
    let status = tokio::time::timeout(PATIENCE, waited)
        .await
        .expect("the daemon stopped in time")
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
}
