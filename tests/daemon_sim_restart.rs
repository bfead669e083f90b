//! The embedded simulator across a restart of the real `khabar` binary, with the repository's
//! `config.toml` (every operator embedded) and receipts an hour away, so they are certainly
//! still owed when the daemon stops:
//!
//! - SIGTERM: what the simulator owes is saved (0600, no code in it), the next start gives it
//!   back, ready at once, and every message is delivered.
//! - SIGKILL: nothing is saved, and the next start says how many messages awaiting receipts
//!   will get none.

mod daemon_support;

use daemon_support::{sigterm, wait_exit_ok, wait_final, wait_for_socket, wait_for_view};
use khabar::api::client::Client;
use khabar::api::protocol::MessageRef;
use khabar::message::{MessageId, State};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The code in the messages' text: it must not reach the saved file.
const CODE: &str = "482913";

/// A `khabar run` child, killed if the test ends without stopping it.
struct Khabar {
    child: Option<Child>,
    log: PathBuf,
}

impl Khabar {
    /// Starts the daemon with its log (JSON lines) in `log`, and waits until it answers.
    async fn start(dir: &Path, log: &str) -> Khabar {
        let log = dir.join(log);
        let child = Command::new(env!("CARGO_BIN_EXE_khabar"))
            .args(["run", "--config"])
            .arg(dir.join("config.toml"))
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start khabar");
        let mut khabar = Khabar {
            child: Some(child),
            log,
        };
        // a daemon that failed to start says why at once rather than after `PATIENCE`
        let child = khabar.child.as_mut().unwrap();
        let socket = socket(dir);
        tokio::select! {
            () = wait_for_socket(&socket) => {}
            status = exited(child) => panic!(
                "khabar stopped ({status}) before it answered: {}",
                std::fs::read_to_string(&khabar.log).unwrap()
            ),
        }
        khabar
    }

    /// SIGTERM, and waits for a clean exit.
    async fn stop(mut self) {
        let child = self.child.take().unwrap();
        sigterm(&child);
        wait_exit_ok(child).await;
    }

    /// SIGKILL, and waits until it is gone.
    fn kill(mut self) {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// Every log entry written so far whose message starts with `start`.
    fn logged(&self, start: &str) -> Vec<Value> {
        let log = std::fs::read_to_string(&self.log).unwrap();
        log.lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|e| {
                e["fields"]["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with(start))
            })
            .collect()
    }
}

/// Resolves when `child` has exited (looked at every 50 ms).
async fn exited(child: &mut Child) -> std::process::ExitStatus {
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

impl Drop for Khabar {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn socket(dir: &Path) -> PathBuf {
    dir.join("data/khabar.sock")
}

fn owed_file(dir: &Path) -> PathBuf {
    dir.join("data/smpp-sim-owed.json")
}

/// The repository's config.toml in `dir`, JSON logs, receipts an hour after the submit.
fn write_config(dir: &Path) {
    let repo =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml")).unwrap();
    let mut text = repo;
    for (line, by) in [
        ("log_format = \"text\"", "log_format = \"json\""),
        ("min_delay_ms = 200", "min_delay_ms = 3600000"),
        ("max_delay_ms = 1500", "max_delay_ms = 3600000"),
    ] {
        assert!(text.contains(line), "config.toml has no `{line}`");
        text = text.replacen(line, by, 1);
    }
    assert!(!text.contains("host = \"127"), "every operator is embedded");
    std::fs::write(dir.join("config.toml"), text).unwrap();
}

/// Submits two notifications to each operator (Kcell, Beeline, Tele2) and waits until every
/// one is `submitted`: its receipt is then owed, an hour away.
async fn submit_awaiting(client: &mut Client) -> Vec<MessageId> {
    let mut ids = Vec::new();
    for prefix in ["701", "705", "707"] {
        for n in 0..2 {
            // not one of the simulator's test numbers (…0000 to …0004 end otherwise)
            let to = format!("+7{prefix}12345{n}7");
            let text = format!("Растау коды: {CODE}");
            ids.push(daemon_support::submit(client, &to, &text, "notification").await);
        }
    }
    for id in &ids {
        wait_for_view(client, *id, |v| v.state == State::Submitted).await;
    }
    ids
}

/// Waits until everything the daemon has applied is on disk: an ack is answered only after
/// the store's next flush, and a flush covers every change applied before it.
async fn wait_durable(dir: &Path) {
    let client = Client::connect(&socket(dir)).await.unwrap();
    let mut subscription = client.subscribe(Some("durable"), None).await.unwrap();
    subscription.ack(0).await.unwrap();
    subscription.finish().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_sigterm_the_receipts_the_simulator_owed_arrive_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path());
    let khabar = Khabar::start(dir.path(), "first.log").await;
    let mut client = Client::connect(&socket(dir.path())).await.unwrap();
    let ids = submit_awaiting(&mut client).await;
    drop(client);
    let first = khabar.log.clone();
    khabar.stop().await;

    // saved: private, every receipt, and no code
    let path = owed_file(dir.path());
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let saved = std::fs::read_to_string(&path).unwrap();
    let hex: String = CODE.bytes().map(|b| format!("{b:02x}")).collect();
    assert!(!saved.contains(CODE) && !saved.contains(&hex), "{saved}");
    let file: Value = serde_json::from_str(&saved).unwrap();
    let receipts = file["operators"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|o| o["items"].as_array().unwrap())
        .filter(|i| i["kind"] == "receipt")
        .count();
    assert_eq!(receipts, ids.len(), "{saved}");
    let log = std::fs::read_to_string(first).unwrap();
    assert!(log.contains("the embedded simulator saved 6 receipts it still owed"));

    let khabar = Khabar::start(dir.path(), "second.log").await;
    let restored = khabar.logged("the embedded simulator restored");
    let count: u64 = (restored.iter())
        .map(|e| e["fields"]["receipts"].as_u64().unwrap())
        .sum();
    assert_eq!(
        (restored.len(), count),
        (3, ids.len() as u64),
        "{restored:?}"
    );
    assert!(
        khabar
            .logged("the embedded simulator was stopped")
            .is_empty()
    );
    assert!(!path.exists(), "restored once, then deleted");
    let mut client = Client::connect(&socket(dir.path())).await.unwrap();
    for id in &ids {
        assert_eq!(wait_final(&mut client, *id).await.state, State::Delivered);
    }
    drop(client);
    khabar.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_sigkill_the_start_says_how_many_receipts_will_not_come() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path());
    let khabar = Khabar::start(dir.path(), "first.log").await;
    assert!(
        khabar
            .logged("the embedded simulator was stopped")
            .is_empty()
    );
    let mut client = Client::connect(&socket(dir.path())).await.unwrap();
    let ids = submit_awaiting(&mut client).await;
    drop(client);
    // a state read back may not be on disk yet: make it so before the kill
    wait_durable(dir.path()).await;
    khabar.kill();
    assert!(!owed_file(dir.path()).exists());

    // written before the socket answers
    let khabar = Khabar::start(dir.path(), "second.log").await;
    let warned = khabar.logged("the embedded simulator was stopped without saving");
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert_eq!(warned[0]["level"], "WARN");
    assert_eq!(warned[0]["fields"]["awaiting"], ids.len() as u64);
    let message = warned[0]["fields"]["message"].as_str().unwrap();
    assert!(
        message.contains("6 messages awaiting receipts from it will get none")
            && message.contains("final_receipt_timeout (72h)"),
        "{message}"
    );
    let mut client = Client::connect(&socket(dir.path())).await.unwrap();
    for id in &ids {
        let view = client.get(&MessageRef::Id(*id)).await.unwrap().unwrap();
        assert_eq!(view.state, State::Submitted, "no receipt is coming for it");
    }
    drop(client);
    khabar.stop().await;
}
