//! The README's first steps, as a new user runs them: the repository's own `config.toml`
//! (the embedded simulator) with the real `khabar` binary for the gateway and for every
//! client command: send, show, status, and the simulator's counters and received messages
//! through `khabar sim`.

mod daemon_support;

use daemon_support::{sigterm, wait_exit_ok, wait_final, wait_for_socket};
use khabar::api::client::Client;
use khabar::message::State;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn khabar(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_khabar"))
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .expect("run khabar")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_repository_config_runs_the_gateway_and_the_readme_commands_work() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml"),
        &config,
    )
    .unwrap();
    let daemon = Command::new(env!("CARGO_BIN_EXE_khabar"))
        .args(["run", "--config"])
        .arg(&config)
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start khabar");
    let socket = dir.path().join("data/khabar.sock");
    wait_for_socket(&socket).await;

    let text = "Сәлем! Өтінішіңіз қабылданды.";
    let sent = khabar(&config, &["send", "--to", "+77011234567", "--text", text]);
    let id = stdout(&sent).trim().parse().expect("send prints the id");
    let mut client = Client::connect(&socket).await.unwrap();
    assert_eq!(wait_final(&mut client, id).await.state, State::Delivered);

    let shown = stdout(&khabar(&config, &["show", &id.to_string()]));
    assert!(shown.contains("delivered"), "{shown}");
    let status = stdout(&khabar(&config, &["status"]));
    assert!(status.contains("kcell"), "{status}");
    let sim_stats = stdout(&khabar(&config, &["sim", "stats"]));
    assert!(
        sim_stats.contains("kcell") && sim_stats.contains("submits"),
        "{sim_stats}"
    );
    let received = stdout(&khabar(&config, &["sim", "messages", "--last", "1"]));
    assert!(received.contains(text), "{received}");
    let reply = khabar(
        &config,
        &[
            "sim",
            "inject-mo",
            "--operator",
            "kcell",
            "--from",
            "77011234567",
            "--text",
            "Иә",
        ],
    );
    stdout(&reply);

    sigterm(&daemon);
    wait_exit_ok(daemon).await;
}
