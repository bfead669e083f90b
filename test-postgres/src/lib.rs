//! A throwaway PostgreSQL server for khabar's tests and benchmarks: `initdb` in a temporary
//! folder, `postgres` listening on a free 127.0.0.1 port, stopped and removed when dropped.
//!
//! PostgreSQL refuses to run as root, and CI runs as root: there the folder is given to
//! `nobody` and both programs run as that user. The binaries are found in `KHABAR_PG_BIN`, in
//! Debian's `/usr/lib/postgresql/<version>/bin` (newest first) or on `PATH`; when none is
//! found, [`TestPostgres::start`] says how to install them (a test that needs PostgreSQL fails
//! then rather than pass without it).
//!
//! Hand-written rather than a crate: the crates that do this download PostgreSQL builds,
//! which CI must not depend on; this one uses the distribution's package.

use std::fmt;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::fs::chown;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

/// The user a server runs as when the tests run as root.
const UNPRIVILEGED: (u32, u32) = (65534, 65534);
/// The superuser `initdb` creates; the tests connect as it.
pub const USER: &str = "khabar";
/// How many times a start is retried when another process took the port first.
const PORT_TRIES: usize = 5;

/// Why a server could not be started.
#[derive(Debug)]
pub enum StartError {
    /// No PostgreSQL binaries on this machine.
    Absent,
    /// A step failed: what it was, and what it printed.
    Failed(String),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Absent => write!(
                f,
                "PostgreSQL is not installed: this test needs its server binaries \
                 (`apt-get install postgresql`, or set KHABAR_PG_BIN to the folder of `initdb`)"
            ),
            StartError::Failed(what) => write!(f, "starting PostgreSQL failed: {what}"),
        }
    }
}

impl std::error::Error for StartError {}

/// A running server; dropping it stops the server and removes its folder.
pub struct TestPostgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    server: Option<Child>,
    password: Option<String>,
    /// The server dies with this process (the shared one, never dropped).
    dies_with_process: bool,
}

/// How a server is set up before its start.
#[derive(Default)]
pub struct Options<'a> {
    /// Extra `postgresql.conf` settings, `(name, value)` as the file writes them.
    pub settings: Vec<(&'a str, &'a str)>,
    /// Files written into the data folder before the start (certificates, keys), readable by
    /// the server's user only.
    pub files: Vec<(&'a str, Vec<u8>)>,
    /// A password the superuser must give over TCP (scram-sha-256); without one, none is asked.
    pub password: Option<&'a str>,
    /// Flush the WAL and data to the disk (`fsync`), as a production server does: for
    /// benchmarks. Off by default: what a test kills is the server's processes, and what they
    /// wrote stays in the operating system's cache, so a commit still survives the kill (the
    /// commit still waits for the WAL's write); the disk is spared the flushes, which made other
    /// tests running after these wait on it.
    pub flush_to_disk: bool,
}

impl TestPostgres {
    /// Creates a cluster and starts it; panics with [`StartError`]'s text when it cannot (for
    /// tests: a missing PostgreSQL is a failure, not a pass).
    pub fn start() -> TestPostgres {
        Self::start_with(Options::default())
    }

    /// [`TestPostgres::start`] with `options`.
    pub fn start_with(options: Options) -> TestPostgres {
        Self::try_start(options).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Creates a cluster as `options` say and starts it.
    pub fn try_start(options: Options) -> Result<TestPostgres, StartError> {
        let mut pg = Self::create(options, "khabar-pg-")?;
        pg.spawn_on_free_port()?;
        Ok(pg)
    }

    /// Creates a cluster as `options` say in a temporary folder named from `prefix`, not
    /// started yet.
    fn create(options: Options, prefix: &str) -> Result<TestPostgres, StartError> {
        let bin = binaries().ok_or(StartError::Absent)?;
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir()
            .map_err(|e| StartError::Failed(format!("temporary folder: {e}")))?;
        let data = dir.path().join("data");
        std::fs::create_dir(&data).map_err(|e| StartError::Failed(format!("{e}")))?;
        give_away(dir.path())?;
        give_away(&data)?;
        let mut initdb = Command::new(bin.join("initdb"));
        initdb
            .arg("-D")
            .arg(&data)
            .args(["-U", USER, "-E", "UTF8", "--locale=C", "--no-sync"]);
        match options.password {
            Some(password) => {
                let file = dir.path().join("password");
                std::fs::write(&file, password).map_err(|e| StartError::Failed(format!("{e}")))?;
                give_away(&file)?;
                initdb
                    .args(["--auth-local=trust", "--auth-host=scram-sha-256"])
                    .arg(format!("--pwfile={}", file.display()));
            }
            None => {
                initdb.args(["-A", "trust"]);
            }
        }
        run(&mut initdb)?;
        let mut conf = String::from("listen_addresses = '127.0.0.1'\n");
        if !options.flush_to_disk {
            conf.push_str("fsync = off\n");
        }
        conf.push_str(&format!(
            "unix_socket_directories = '{}'\n",
            dir.path().display()
        ));
        for (name, value) in &options.settings {
            conf.push_str(&format!("{name} = {value}\n"));
        }
        append(&data.join("postgresql.conf"), &conf)?;
        for (name, bytes) in &options.files {
            let path = data.join(name);
            std::fs::write(&path, bytes).map_err(|e| StartError::Failed(format!("{e}")))?;
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
                .map_err(|e| StartError::Failed(format!("{e}")))?;
            give_away(&path)?;
        }
        let pg = TestPostgres {
            bin,
            dir,
            port: 0,
            server: None,
            password: options.password.map(str::to_owned),
            dies_with_process: false,
        };
        Ok(pg)
    }

    /// Starts the server on a free port, trying another when one was taken meanwhile.
    fn spawn_on_free_port(&mut self) -> Result<(), StartError> {
        let mut last = String::new();
        for _ in 0..PORT_TRIES {
            self.port = free_port()?;
            match self.spawn() {
                Ok(()) => return Ok(()),
                Err(log) if log.contains("could not bind") => last = log,
                Err(log) => return Err(StartError::Failed(log)),
            }
        }
        Err(StartError::Failed(last))
    }

    /// One server for the whole test binary, started by the first caller; each test makes a
    /// database of its own in it. It runs until the process exits (it is killed then: it is
    /// started from a thread that lives as long as the process, and asks the kernel to kill it
    /// when that thread ends); folders left by binaries that are gone are removed at its start.
    pub fn shared() -> &'static TestPostgres {
        static SHARED: std::sync::OnceLock<TestPostgres> = std::sync::OnceLock::new();
        SHARED.get_or_init(|| {
            let (started, wait) = mpsc::channel();
            std::thread::spawn(move || {
                remove_stale_shared();
                let _ = started.send(Self::try_start_shared());
                loop {
                    std::thread::park();
                }
            });
            wait.recv()
                .unwrap_or_else(|_| Err(StartError::Failed("no answer".into())))
                .unwrap_or_else(|e| panic!("{e}"))
        })
    }

    fn try_start_shared() -> Result<TestPostgres, StartError> {
        let mut pg = Self::create(
            Options::default(),
            &format!("{SHARED_PREFIX}{}-", std::process::id()),
        )?;
        pg.dies_with_process = true;
        pg.spawn_on_free_port()?;
        Ok(pg)
    }

    /// Starts `postgres` on `self.port` and waits for it to say it accepts connections;
    /// on failure, what it printed.
    fn spawn(&mut self) -> Result<(), String> {
        let mut postgres = Command::new(self.bin.join("postgres"));
        let command = as_unprivileged(
            postgres
                .arg("-D")
                .arg(self.data())
                .args(["-p", &self.port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                // its own process group, so that a crash can take the server and its
                // backends at once
                .process_group(0),
        );
        if self.dies_with_process {
            // SAFETY: prctl is async-signal-safe; it only sets this child's death signal
            unsafe {
                command.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
        }
        let mut child = command
            .spawn()
            .map_err(|e| format!("running postgres: {e}"))?;
        let stderr = child.stderr.take().expect("piped");
        let (ready, wait) = mpsc::channel();
        // Reads the server's log until it ends; the first line that says it is ready, or the
        // end of the log (it exited), is reported.
        std::thread::spawn(move || {
            let mut log = String::new();
            let mut reported = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                log.push_str(&line);
                log.push('\n');
                // "ready to accept connections", or "... read-only connections" on a standby
                if !reported && line.contains("ready to accept") {
                    reported = ready.send(Ok(())).is_ok();
                }
            }
            if !reported {
                let _ = ready.send(Err(log));
            }
        });
        let result = wait.recv().unwrap_or_else(|_| Err("no log".into()));
        match result {
            Ok(()) => {
                self.server = Some(child);
                Ok(())
            }
            Err(log) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(log)
            }
        }
    }

    /// The port the server listens on, at 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A libpq connection string for `database` (`postgres` exists from the start).
    pub fn url(&self, database: &str) -> String {
        format!("postgresql://{USER}@127.0.0.1:{}/{database}", self.port)
    }

    /// The cluster's data folder.
    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Runs `psql` with `sql` against `database`; what it printed.
    pub fn psql(&self, database: &str, sql: &str) -> Result<String, StartError> {
        let psql = self.bin.join("psql");
        let psql = if psql.exists() { psql } else { "psql".into() };
        let mut command = Command::new(psql);
        if let Some(password) = &self.password {
            command.env("PGPASSWORD", password);
        }
        let out = command
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(self.url(database))
            .args(["-c", sql])
            .output()
            .map_err(|e| StartError::Failed(format!("running psql: {e}")))?;
        if !out.status.success() {
            return Err(StartError::Failed(
                String::from_utf8_lossy(&out.stderr).into_owned(),
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// A standby of this server on a port of its own, streaming its WAL (`pg_basebackup -R`).
    /// With `synchronous`, this server then acknowledges a commit only once the standby has
    /// it (`synchronous_standby_names = '*'`), and this waits until the standby is in sync.
    pub fn start_standby(&self, synchronous: bool) -> Result<TestPostgres, StartError> {
        let dir = tempfile::Builder::new()
            .prefix("khabar-pg-standby-")
            .tempdir()
            .map_err(|e| StartError::Failed(format!("temporary folder: {e}")))?;
        give_away(dir.path())?;
        let data = dir.path().join("data");
        run(Command::new(self.bin.join("pg_basebackup"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", USER])
            .arg("-D")
            .arg(&data)
            .args(["-R", "-X", "stream", "--no-sync"]))?;
        // its own socket folder (the copied configuration names the primary's)
        let conf = format!("unix_socket_directories = '{}'\n", dir.path().display());
        append(&data.join("postgresql.conf"), &conf)?;
        let mut standby = TestPostgres {
            bin: self.bin.clone(),
            dir,
            port: 0,
            server: None,
            password: self.password.clone(),
            dies_with_process: false,
        };
        standby.spawn_on_free_port()?;
        if synchronous {
            self.psql(
                "postgres",
                "ALTER SYSTEM SET synchronous_standby_names = '*'",
            )?;
            self.psql("postgres", "SELECT pg_reload_conf()")?;
            while self.psql(
                "postgres",
                "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'",
            )? != "1"
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
        Ok(standby)
    }

    /// Promotes this standby to a primary that accepts writes, and waits until it does.
    pub fn promote(&self) -> Result<(), StartError> {
        let promoted = self.psql("postgres", "SELECT pg_promote(true, 60)")?;
        if promoted == "t" {
            Ok(())
        } else {
            Err(StartError::Failed(format!("pg_promote said {promoted:?}")))
        }
    }

    /// Kills the server and every backend with SIGKILL, as the loss of its machine would,
    /// and waits for them to be gone. What was committed is on disk; the rest is not.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.server.take() {
            unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
            let _ = child.wait();
            // the backends are the server's children, not ours: wait until every one has died
            // (a zombie no longer holds the server's shared memory)
            while alive_in_group(child.id()) {
                std::thread::yield_now();
            }
        }
    }

    /// Starts the server again on the same port and data after [`TestPostgres::kill`]; it
    /// recovers from its log before it says it is ready.
    pub fn restart(&mut self) -> Result<(), StartError> {
        self.kill();
        self.spawn().map_err(StartError::Failed)
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        if let Some(mut child) = self.server.take() {
            // SIGQUIT: immediate shutdown, the server's children end with it
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGQUIT) };
            let _ = child.wait();
        }
    }
}

/// The folder of `initdb` and `postgres`, if PostgreSQL is installed.
fn binaries() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("KHABAR_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut debian: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            Some((version, e.path().join("bin")))
        })
        .filter(|(_, bin)| bin.join("initdb").exists())
        .collect();
    debian.sort();
    if let Some((_, bin)) = debian.pop() {
        return Some(bin);
    }
    std::env::var_os("PATH")
        .and_then(|path| std::env::split_paths(&path).find(|dir| dir.join("initdb").exists()))
}

/// True while a process of process group `group` is alive (neither gone nor a zombie).
fn alive_in_group(group: u32) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.flatten().any(|entry| {
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // after "(name)": state, ppid, pgrp
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        fields.len() > 2 && fields[0] != "Z" && fields[2] == group.to_string()
    })
}

/// The folder name of shared servers, before the pid of the process that started it.
const SHARED_PREFIX: &str = "khabar-pg-shared-";

/// Removes the folders of shared servers whose process has ended (a static is never dropped).
fn remove_stale_shared() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(SHARED_PREFIX)
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Gives `path` to the server's user when the tests run as root.
fn give_away(path: &Path) -> Result<(), StartError> {
    if is_root() {
        chown(path, Some(UNPRIVILEGED.0), Some(UNPRIVILEGED.1))
            .map_err(|e| StartError::Failed(format!("giving {path:?} to nobody: {e}")))?;
    }
    Ok(())
}

fn is_root() -> bool {
    unsafe { libc::geteuid() == 0 }
}

/// The command, run as `nobody` when the tests run as root.
fn as_unprivileged(command: &mut Command) -> &mut Command {
    if is_root() {
        command.uid(UNPRIVILEGED.0).gid(UNPRIVILEGED.1);
        // nobody cannot read root's folders: run from the filesystem's root
        command.current_dir("/");
    }
    command
}

/// Runs a command to its end; its output when it fails.
fn run(command: &mut Command) -> Result<(), StartError> {
    let out = as_unprivileged(command)
        .output()
        .map_err(|e| StartError::Failed(format!("running {command:?}: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(StartError::Failed(format!(
            "{command:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )))
    }
}

fn append(path: &Path, text: &str) -> Result<(), StartError> {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| StartError::Failed(format!("writing {path:?}: {e}")))
}

/// A port free at 127.0.0.1 a moment ago (another process may take it: the caller retries).
fn free_port() -> Result<u16, StartError> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| StartError::Failed(format!("finding a free port: {e}")))
}
