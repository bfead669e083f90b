//! The daemon's log under a flood of repeated events: the real `khabar` binary, its JSON log
//! in a file, and 10,000 mobile-originated messages that match no request. Each kind of
//! event is logged in full once per window and then counted, so the log says how many came
//! without a line for each.

mod daemon_support;

use daemon_support::{PATIENCE, config_text, sigterm, simulator, wait_exit_ok, wait_for_socket};
use khabar::api::client::Client;
use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::Duration;

const REPLIES: usize = 10_000;
const UNMATCHED: &str = "a reply that matches no open request";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_of_replies_matching_nothing_is_counted_not_logged_line_by_line() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    let text = format!(
        "log_format = \"json\"\n{}",
        config_text(dir.path(), &sim, "")
    );
    std::fs::write(&config, text).unwrap();
    let log_path = dir.path().join("daemon.log");
    let daemon = Command::new(env!("CARGO_BIN_EXE_khabar"))
        .args(["run", "--config"])
        .arg(&config)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .expect("start khabar");
    let socket = dir.path().join("khabar.sock");
    wait_for_socket(&socket).await;
    let mut client = Client::connect(&socket).await.unwrap();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !client
        .status()
        .await
        .unwrap()
        .unwrap()
        .operators
        .iter()
        .all(|o| {
            o.binds
                .iter()
                .all(|b| b.state == khabar::api::views::BindState::Up)
        })
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "binds never came up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for n in 0..REPLIES {
        let from = format!("7701{:07}", n * 10 + 7);
        sim.inject_mo("kcell", &from, "1414", "Иә").unwrap();
    }
    sim.wait_for_stats("kcell", PATIENCE, |s| s.mo_acked >= REPLIES as u64)
        .await
        .expect("every reply stored and acknowledged");
    // SIGTERM: the daemon summarises what it counted before it stops
    sigterm(&daemon);
    wait_exit_ok(daemon).await;

    let log = std::fs::read_to_string(&log_path).unwrap();
    let (mut lines, mut counted) = (0usize, 0u64);
    for line in log.lines() {
        let Ok(entry) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let fields = &entry["fields"];
        let message = fields["message"].as_str().unwrap_or_default();
        if !message.starts_with(UNMATCHED) {
            continue;
        }
        lines += 1;
        // a full line stands for itself, a summary for the `repeated` it counted
        counted += fields["repeated"].as_u64().unwrap_or(1);
    }
    eprintln!("{REPLIES} replies: {lines} log lines, which count {counted}");
    assert_eq!(
        counted, REPLIES as u64,
        "the log must account for every reply"
    );
    assert!(
        lines * 100 <= REPLIES,
        "{lines} lines for {REPLIES} replies: the log is flooded"
    );
}
