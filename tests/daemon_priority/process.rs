//! The real `khabar` binary as a child process: started with a config file, its log kept in a
//! file for the report of a failing test, stopped with SIGTERM as an init system would.

use super::daemon_support::{PATIENCE, wait_for_socket};
use khabar::api::client::Client;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::process::{Child, Command};

/// A running `khabar run --config …`; killed (SIGKILL) if dropped without [`Self::stop`].
pub struct DaemonProcess {
    child: Child,
    socket: PathBuf,
    log: PathBuf,
}

impl DaemonProcess {
    /// Starts the binary with the config at `config` (whose socket is `socket`), logging at
    /// `info` to `log`, and waits until the socket answers.
    pub async fn start(config: &Path, socket: &Path, log: &Path) -> DaemonProcess {
        let child = Command::new(env!("CARGO_BIN_EXE_khabar"))
            .args(["run", "--config"])
            .arg(config)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(File::create(log).expect("create the daemon's log file"))
            .kill_on_drop(true)
            .spawn()
            .expect("start khabar");
        wait_for_socket(socket).await;
        DaemonProcess {
            child,
            socket: socket.to_owned(),
            log: log.to_owned(),
        }
    }

    /// A new client connection.
    pub async fn client(&self) -> Client {
        Client::connect(&self.socket).await.expect("connect")
    }

    /// The last `n` lines of the daemon's log (for failure messages).
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Sends SIGTERM and waits (up to `PATIENCE`) until the daemon has exited successfully.
    pub async fn stop(mut self) {
        let pid = self.child.id().expect("the daemon is still running");
        let pid = libc::pid_t::try_from(pid).expect("a pid fits pid_t");
        // SAFETY: kill(2) with a pid this test spawned and has not yet reaped.
        let sent = unsafe { libc::kill(pid, libc::SIGTERM) };
        assert_eq!(sent, 0, "cannot send SIGTERM to the daemon");
        let status = tokio::time::timeout(PATIENCE, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("the daemon ignored SIGTERM:\n{}", self.log_tail(20)))
            .expect("wait for the daemon");
        assert!(
            status.success(),
            "the daemon exited with {status}:\n{}",
            self.log_tail(20)
        );
    }
}
