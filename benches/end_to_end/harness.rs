//! A simulator on 127.0.0.1 ephemeral ports and a khabar daemon in this process, configured
//! to use it, each in a fresh temporary directory. The daemon runs on a tokio runtime of its
//! own, as in production, so the simulator's and the load's tasks never queue in its scheduler.

use khabar::api::client::Client;
use khabar::config::Config;
use smpp_sim::{ReceiptConfig, SimConfig, SimHandle, Simulator};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The longest the bench waits for a daemon or a bind to come up.
const STARTUP: Duration = Duration::from_secs(60);

/// A simulator with the three default operators, quick receipts and no test numbers.
pub async fn simulator() -> Result<SimHandle, String> {
    simulator_holding(SimConfig::default().max_messages).await
}

/// [`simulator`] keeping up to `max_messages` received messages in memory (oldest dropped).
pub async fn simulator_holding(max_messages: usize) -> Result<SimHandle, String> {
    let mut config = SimConfig::ephemeral();
    config.max_messages = max_messages;
    config.receipts = ReceiptConfig {
        min_delay_ms: 0,
        max_delay_ms: 50,
        ..ReceiptConfig::default()
    };
    config.test_numbers = false;
    Simulator::start(config).await.map_err(|e| e.to_string())
}

/// How the daemon's operators are configured.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    /// How many of the simulator's operators the daemon uses (1 or 3).
    pub operators: usize,
    /// Binds per operator.
    pub binds: u32,
    /// Window per bind.
    pub window: u32,
    /// TPS cap per operator.
    pub tps: u32,
}

/// config.toml for a daemon in `dir` using the first `shape.operators` of `sim`'s operators.
/// With one operator every number is routed to it (no fallbacks).
fn config_text(dir: &Path, sim: &SimHandle, shape: Shape) -> String {
    let operators = sim.operators();
    let used = &operators[..shape.operators.min(operators.len())];
    let mut text = format!(
        "data_dir = {:?}\n[api]\nsocket_path = {:?}\n",
        dir.join("data"),
        dir.join("khabar.sock")
    );
    if let [only] = used {
        text.push_str(&format!(
            "[routes]\nroutes = [{{ prefix = \"77\", operator = {:?} }}]\nfallback = {{}}\n",
            only.name
        ));
    }
    for op in used {
        text.push_str(&format!(
            "\n[[operator]]\nname = {:?}\nhost = \"127.0.0.1\"\nport = {}\nsystem_id = {:?}\n\
             password = {:?}\nbinds = {}\nwindow = {}\ntps = {}\n\
             reconnect_min = \"50ms\"\nreconnect_max = \"500ms\"\n",
            op.name,
            op.addr.port(),
            op.system_id,
            op.password,
            shape.binds,
            shape.window,
            shape.tps,
        ));
    }
    text
}

/// Writes `dir/config.toml` for a daemon with its data in `dir/data` (the store in
/// `dir/data/store`) and its socket at `dir/khabar.sock`; returns the file's path.
pub fn write_config(dir: &Path, sim: &SimHandle, shape: Shape) -> Result<PathBuf, String> {
    let path = dir.join("config.toml");
    std::fs::write(&path, config_text(dir, sim, shape)).map_err(|e| e.to_string())?;
    Ok(path)
}

/// A daemon running in this process, in its own temporary directory.
pub struct Daemon {
    /// Its socket.
    pub socket: PathBuf,
    stop: CancellationToken,
    task: std::thread::JoinHandle<Result<(), String>>,
    dir: tempfile::TempDir,
}

impl Daemon {
    /// Starts a daemon for `sim` shaped as `shape`; returns when its socket answers and every
    /// bind is up at the simulator.
    pub async fn start(sim: &SimHandle, shape: Shape) -> Result<Daemon, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        Daemon::start_in(dir, sim, shape).await
    }

    /// Stops it and starts it again over the same store, shaped as `shape`.
    pub async fn restart(self, sim: &SimHandle, shape: Shape) -> Result<Daemon, String> {
        let dir = self.shut_down().await?;
        Daemon::start_in(dir, sim, shape).await
    }

    async fn start_in(
        dir: tempfile::TempDir,
        sim: &SimHandle,
        shape: Shape,
    ) -> Result<Daemon, String> {
        let path = write_config(dir.path(), sim, shape)?;
        let config = Config::load(&path).map_err(|e| e.to_string())?;
        let socket = config.api.socket_path.clone();
        let stop = CancellationToken::new();
        let token = stop.clone();
        let task = std::thread::Builder::new()
            .name("bench-daemon".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| e.to_string())?;
                runtime
                    .block_on(khabar::daemon::run_with(config, token))
                    .map_err(|e| e.to_string())
            })
            .map_err(|e| e.to_string())?;
        let daemon = Daemon {
            socket,
            stop,
            task,
            dir,
        };
        daemon.wait_ready(sim, shape).await?;
        Ok(daemon)
    }

    async fn wait_ready(&self, sim: &SimHandle, shape: Shape) -> Result<(), String> {
        let deadline = Instant::now() + STARTUP;
        loop {
            if let Ok(mut client) = Client::connect(&self.socket).await
                && client.status().await.is_ok_and(|s| s.is_ok())
            {
                break;
            }
            if Instant::now() > deadline || self.task.is_finished() {
                return Err("the daemon never answered on its socket".into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let bound = |sim: &SimHandle| {
            sim.stats()
                .iter()
                .take(shape.operators)
                .all(|s| s.binds_current >= u64::from(shape.binds))
        };
        while !bound(sim) {
            if Instant::now() > deadline {
                return Err("the daemon's binds never came up".into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    /// A new client connection.
    pub async fn client(&self) -> Result<Client, String> {
        Client::connect(&self.socket)
            .await
            .map_err(|e| e.to_string())
    }

    /// Stops it the way SIGTERM does and waits until it has.
    pub async fn stop(self) -> Result<(), String> {
        self.shut_down().await.map(drop)
    }

    /// Stops it and waits until it has; hands back its directory, store and all.
    async fn shut_down(self) -> Result<tempfile::TempDir, String> {
        self.stop.cancel();
        let task = self.task;
        tokio::task::spawn_blocking(move || task.join())
            .await
            .map_err(|e| e.to_string())?
            .map_err(|_| "the daemon's thread panicked".to_string())??;
        Ok(self.dir)
    }
}
