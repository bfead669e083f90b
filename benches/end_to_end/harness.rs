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
/// How long a daemon child may take to exit after SIGTERM before it is killed.
pub const STOP_PATIENCE: Duration = Duration::from_secs(60);

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

/// `[store] thread_nice` for every daemon the bench configures (`--thread-nice`); the
/// daemon's default when unset.
pub static THREAD_NICE: std::sync::OnceLock<i32> = std::sync::OnceLock::new();

/// `--engine postgres`: the server whose fresh databases keep the stores of every daemon the
/// bench configures (test-postgres: fsync and `synchronous_commit` on, as PostgreSQL ships);
/// the embedded sled store when unset. Taken and stopped when the bench ends.
pub static POSTGRES: std::sync::Mutex<Option<test_postgres::TestPostgres>> =
    std::sync::Mutex::new(None);

/// The database made for each daemon folder: a daemon configured again in the same folder
/// (a restart over the same store) keeps its database.
static DATABASES: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

/// The `[store]` lines and the `[store.postgres]` table that put the daemon of `dir` in a
/// database of [`POSTGRES`] of its own; `None` on the embedded store.
fn postgres_store(dir: &Path) -> Result<Option<(String, String)>, String> {
    let server = POSTGRES.lock().map_err(|e| e.to_string())?;
    let Some(pg) = server.as_ref() else {
        return Ok(None);
    };
    let mut made = DATABASES.lock().map_err(|e| e.to_string())?;
    let n = match made.iter().position(|d| d == dir) {
        Some(n) => n,
        None => {
            made.push(dir.to_owned());
            let n = made.len() - 1;
            pg.psql("postgres", &format!("CREATE DATABASE bench_{n}"))
                .map_err(|e| e.to_string())?;
            n
        }
    };
    let database = format!("bench_{n}");
    let table = format!(
        "[store.postgres]\nport = {}\ndatabase = {database:?}\nuser = {:?}\nnode = \"bench\"\n",
        pg.port(),
        test_postgres::USER
    );
    Ok(Some(("engine = \"postgres\"\n".to_owned(), table)))
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
    write_config_with(dir, sim, shape, "")
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

/// [`write_config`] with `extra` appended: further TOML sections such as `[store]` or
/// `[scheduler]` (which [`write_config`] never writes).
pub fn write_config_with(
    dir: &Path,
    sim: &SimHandle,
    shape: Shape,
    extra: &str,
) -> Result<PathBuf, String> {
    let path = dir.join("config.toml");
    let (store_lines, postgres_table) = postgres_store(dir)?.unwrap_or_default();
    let text = format!(
        "{}\n{}\n{postgres_table}",
        config_text(dir, sim, shape),
        with_store_lines(extra, &store_lines)
    );
    std::fs::write(&path, text).map_err(|e| e.to_string())?;
    Ok(path)
}

/// `extra` with `store_lines` and `[store] thread_nice` from `--thread-nice` added: into its
/// `[store]` table when it has one (TOML allows a table once), else in a table of its own.
fn with_store_lines(extra: &str, store_lines: &str) -> String {
    let mut line = store_lines.to_owned();
    if let Some(nice) = THREAD_NICE.get() {
        line.push_str(&format!("thread_nice = {nice}\n"));
    }
    if line.is_empty() {
        return extra.to_owned();
    }
    const TABLE: &str = "[store]\n";
    match extra.find(TABLE) {
        Some(at) => {
            let (before, after) = extra.split_at(at + TABLE.len());
            format!("{before}{line}{after}")
        }
        None => format!("{extra}\n{TABLE}{line}"),
    }
}

/// Bytes `path` takes on disk (allocated blocks, `st_blocks` × 512), counting everything
/// under it when it is a directory; symbolic links are not followed. 0 if it is gone.
pub fn disk_bytes(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    let own = meta.blocks() * 512;
    if !meta.is_dir() {
        return own;
    }
    let inside: u64 = std::fs::read_dir(path)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| disk_bytes(&e.path()))
                .sum()
        })
        .unwrap_or(0);
    own + inside
}

/// A `khabar` binary (`khabar --config … run`) running as a child process, its output in a
/// log file. Dropping it kills the child.
pub struct Process {
    child: tokio::process::Child,
    pid: u32,
    log: PathBuf,
    /// Its socket.
    pub socket: PathBuf,
}

impl Process {
    /// Spawns the bench profile's `khabar` binary with `config`, stdout and stderr in `log`;
    /// `socket` is the socket path the config names.
    pub fn spawn(config: &Path, socket: &Path, log: &Path) -> Result<Process, String> {
        let out = std::fs::File::create(log).map_err(|e| e.to_string())?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_khabar"))
            .arg("--config")
            .arg(config)
            .arg("run")
            .stdin(std::process::Stdio::null())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start khabar: {e}"))?;
        let pid = child.id().ok_or("khabar exited at once")?;
        Ok(Process {
            child,
            pid,
            log: log.to_path_buf(),
            socket: socket.to_path_buf(),
        })
    }

    /// Waits until its socket answers `status` and `shape.operators` of `sim`'s operators
    /// have `shape.binds` binds up each; fails if it exits or [`STARTUP`] passes first.
    pub async fn wait_ready(&mut self, sim: &SimHandle, shape: Shape) -> Result<(), String> {
        let deadline = Instant::now() + STARTUP;
        let bound = |sim: &SimHandle| {
            sim.stats()
                .iter()
                .take(shape.operators)
                .all(|s| s.binds_current >= u64::from(shape.binds))
        };
        let mut answered = false;
        while !(answered && bound(sim)) {
            if !answered && let Ok(mut client) = Client::connect(&self.socket).await {
                answered = client.status().await.is_ok_and(|s| s.is_ok());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("khabar exited ({status}) while starting"));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "khabar not ready within {STARTUP:?} (socket answering: {answered})"
                ));
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

    /// Its resident memory now (`VmRSS`) and its peak (`VmHWM`), MiB; 0 once it is gone.
    pub fn rss_mib(&self) -> (f64, f64) {
        proc_memory_mib(self.pid)
    }

    /// CPU seconds it has used so far (utime + stime of all its threads).
    pub fn cpu_s(&self) -> f64 {
        proc_cpu_s(self.pid).unwrap_or(0.0)
    }

    /// True while it has not exited.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM, then waits up to `patience` for it to exit (SIGKILL after that); its exit
    /// status, or why there is none.
    pub async fn terminate(
        &mut self,
        patience: Duration,
    ) -> Result<std::process::ExitStatus, String> {
        if let Ok(pid) = libc::pid_t::try_from(self.pid)
            && self.running()
        {
            // SAFETY: kill(2) on our own child's pid, which is not reaped before this returns.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        match tokio::time::timeout(patience, self.child.wait()).await {
            Ok(Ok(status)) => Ok(status),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => {
                let _ = self.child.kill().await;
                Err(format!(
                    "did not stop within {patience:?} of SIGTERM; killed"
                ))
            }
        }
    }

    /// The last `lines` lines of its log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

/// `VmRSS` and `VmHWM` of process `pid` (`/proc/PID/status`), MiB; 0 when unreadable.
pub fn proc_memory_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kib| kib / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// utime + stime of process `pid` (`/proc/PID/stat`, fields 14 and 15, counted after the
/// parenthesised name, which may hold spaces), seconds.
pub fn proc_cpu_s(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat[stat.rfind(')')? + 2..].split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf only reads a constant of the running system.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let ticks = if ticks > 0 { ticks as f64 } else { 100.0 };
    Some((utime + stime) / ticks)
}
