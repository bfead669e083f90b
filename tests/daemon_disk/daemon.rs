//! The real `khabar` binary as a child process (its stderr kept in a file to read), a
//! simulator that keeps offering receipts while the daemon is down, and the submits and
//! checks the disk tests share.

use super::daemon_support::{PATIENCE, wait_for_socket};
use khabar::api::ErrorCode;
use khabar::api::client::Client;
use khabar::api::protocol::MessageRef;
use khabar::api::views::StatusReport;
use khabar::message::MessageId;
use serde_json::json;
use smpp_sim::{SimConfig, SimHandle, Simulator};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

/// A simulator on ephemeral ports with quick receipts that it keeps offering (a receipt the
/// daemon could not store is refused, and must come again after the restart).
pub async fn patient_simulator() -> SimHandle {
    let mut config = SimConfig::ephemeral();
    config.receipts.min_delay_ms = 10;
    config.receipts.max_delay_ms = 100;
    config.receipts.retry_delay_ms = 200;
    config.receipts.max_attempts = 10_000;
    Simulator::start(config).await.expect("start smpp-sim")
}

/// The khabar binary running `khabar run --config …`.
pub struct DaemonProcess {
    child: Child,
    stderr: PathBuf,
    /// Its socket.
    pub socket: PathBuf,
}

impl DaemonProcess {
    /// Starts it without waiting; its stderr goes to `stderr` (appended).
    pub fn spawn(config: &Path, socket: &Path, stderr: &Path) -> DaemonProcess {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(stderr)
            .expect("open the daemon's log");
        let child = Command::new(env!("CARGO_BIN_EXE_khabar"))
            .args(["run", "--config"])
            .arg(config)
            .env("RUST_LOG", "warn,khabar::store=info")
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start khabar");
        DaemonProcess {
            child,
            stderr: stderr.to_path_buf(),
            socket: socket.to_path_buf(),
        }
    }

    /// Starts it and waits until its socket answers.
    pub async fn start(config: &Path, socket: &Path, stderr: &Path) -> DaemonProcess {
        let daemon = DaemonProcess::spawn(config, socket, stderr);
        wait_for_socket(socket).await;
        daemon
    }

    /// A new client connection.
    pub async fn client(&self) -> Client {
        Client::connect(&self.socket).await.expect("connect")
    }

    /// What it wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Waits (up to `PATIENCE`) until it exits by itself.
    pub async fn exited(&mut self) -> ExitStatus {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for khabar") {
                return status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the daemon did not exit; its log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops it with SIGTERM and returns how it exited.
    pub async fn stop(mut self) -> ExitStatus {
        let pid = libc::pid_t::try_from(self.child.id()).expect("pid fits");
        // SAFETY: signalling our own child, which has not been reaped yet.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        self.exited().await
    }
}

impl Drop for DaemonProcess {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A Kcell number for message `n` (never one of smpp-sim's test endings 0000–0004).
pub fn number(series: u32, n: usize) -> String {
    format!("7701{series}{:06}", n * 10 + 7)
}

/// The reference of message `n`.
pub fn reference(series: u32, n: usize) -> String {
    format!("disk-{series}-{n}")
}

/// What became of one submitted message.
#[derive(Debug)]
pub enum Outcome {
    /// Accepted (or a duplicate of an accepted one) with this id.
    Accepted(MessageId),
    /// Refused with this code and sentence.
    Refused(ErrorCode, String),
}

/// Submits messages `range` of `series` as one `submit_batch`; None when the daemon closed
/// the connection instead of answering.
pub async fn submit_range(
    client: &mut Client,
    series: u32,
    range: std::ops::Range<usize>,
) -> Option<Vec<Outcome>> {
    let messages = range
        .clone()
        .map(|n| {
            json!({
                "to": number(series, n),
                "text": format!("Хабарлама {n}: өтінішіңіз қабылданды, рақмет."),
                "kind": "bulk",
                "reference": reference(series, n),
            })
        })
        .collect();
    let reply = tokio::time::timeout(PATIENCE, client.submit_batch(messages))
        .await
        .expect("every submit is answered (or the connection closes), never left hanging");
    let reply = reply.ok()?.expect("the batch itself is well-formed");
    Some(
        reply
            .results
            .into_iter()
            .map(|item| match (item.message_id, item.error) {
                (Some(id), _) => Outcome::Accepted(id),
                (None, Some(e)) => Outcome::Refused(e.code, e.message),
                (None, None) => panic!("an item with neither id nor error"),
            })
            .collect(),
    )
}

/// Submits messages `range`, asserting every one is accepted; returns (id, number).
pub async fn submit_all(
    client: &mut Client,
    series: u32,
    range: std::ops::Range<usize>,
) -> Vec<(MessageId, String)> {
    let mut sent = Vec::new();
    for start in range.clone().step_by(100) {
        let chunk = start..range.end.min(start + 100);
        let outcomes = submit_range(client, series, chunk.clone())
            .await
            .expect("the daemon answers");
        for (n, outcome) in chunk.zip(outcomes) {
            match outcome {
                Outcome::Accepted(id) => sent.push((id, number(series, n))),
                Outcome::Refused(code, why) => panic!("message {n} refused: {code}: {why}"),
            }
        }
    }
    sent
}

/// True for the answer to a message refused because the disk is full.
pub fn is_disk_full(outcome: &Outcome) -> bool {
    matches!(outcome, Outcome::Refused(ErrorCode::Unavailable, why) if why.contains("the disk is full"))
}

/// Submits new messages of `series` from `n` on (a new reference each time: a retry of an
/// accepted one would be answered as accepted) until `wanted` says yes to an outcome;
/// returns that outcome.
pub async fn probe_until(
    client: &mut Client,
    series: u32,
    n: usize,
    what: &str,
    wanted: impl Fn(&Outcome) -> bool,
) -> Outcome {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    for n in n.. {
        let mut outcomes = submit_range(client, series, n..n + 1)
            .await
            .expect("the daemon answers");
        let outcome = outcomes.pop().expect("one result");
        if wanted(&outcome) {
            return outcome;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never {what}; last answer: {outcome:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    unreachable!("the probes ran out of numbers")
}

/// The daemon's status report.
pub async fn status(client: &mut Client) -> StatusReport {
    client.status().await.expect("socket").expect("status")
}

/// Asserts the daemon still knows every message of `sent` (by id and by reference).
pub async fn assert_all_known(client: &mut Client, sent: &[(MessageId, String)]) {
    for (id, _) in sent {
        let view = client.get(&MessageRef::Id(*id)).await.expect("socket");
        let view = view.unwrap_or_else(|e| panic!("accepted message {id} is lost: {e:?}"));
        assert_eq!(view.id, *id);
    }
}
