//! The `khabar` binary against a socket server over the fake backend.

mod api_support;

use api_support::TestServer;
use api_support::fake_otp::OTP_CODE;
use khabar::api::views::StatusReport;
use khabar::message::{MessageId, State};
use std::path::Path;
use std::process::Output;

/// Runs `khabar ARGS` in `dir` with the socket given by `--socket`.
async fn khabar(dir: &Path, socket: Option<&Path>, args: &[&str]) -> Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_khabar"));
    cmd.current_dir(dir)
        .env_remove("KHABAR_SOCKET")
        .env_remove("KHABAR_CONFIG")
        .args(args);
    if let Some(socket) = socket {
        cmd.arg("--socket").arg(socket);
    }
    api_support::within(cmd.output()).await.expect("run khabar")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn send_prints_the_stored_id_and_flags_a_duplicate() {
    let server = TestServer::start().await;
    let args = [
        "send",
        "--to",
        "87011234567",
        "--text",
        "Өтінішіңіз қабылданды",
        "--ref",
        "crm-1",
    ];
    let out = khabar(server.dir.path(), Some(&server.path), &args).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let id: MessageId = stdout(&out).trim().parse().expect("an id");
    let stored = server.backend.message(id).expect("stored");
    assert_eq!(stored.text.as_deref(), Some("Өтінішіңіз қабылданды"));
    assert_eq!(stored.reference.as_deref(), Some("crm-1"));

    let again = khabar(server.dir.path(), Some(&server.path), &args).await;
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(stdout(&again).trim(), id.to_string());
    assert!(stderr(&again).contains("duplicate"));
}

#[tokio::test]
async fn a_refused_send_exits_1_with_the_reason() {
    let server = TestServer::start().await;
    let out = khabar(
        server.dir.path(),
        Some(&server.path),
        &["send", "--to", "12345", "--text", "x"],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("invalid_number"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
}

#[tokio::test]
async fn every_client_command_exits_3_naming_the_missing_socket() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere.sock");
    let commands: [&[&str]; 7] = [
        &["send", "--to", "77011234567", "--text", "x"],
        &["status"],
        &["show", "0000000000000001"],
        &["events"],
        &["cancel", "0000000000000001"],
        &["otp", "send", "--to", "77011234567", "--session", "s"],
        &["otp", "verify", "--session", "s", "--code", "1"],
    ];
    for args in commands {
        let out = khabar(dir.path(), Some(&missing), args).await;
        assert_eq!(out.status.code(), Some(3), "{args:?}");
        assert!(
            stderr(&out).contains(&missing.display().to_string()),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    // Without --socket, the default next to ./config.toml is what it tried.
    let out = khabar(dir.path(), None, &["status"]).await;
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("data/khabar.sock"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn the_socket_path_is_read_from_the_config_file() {
    let server = TestServer::start().await;
    let config = server.dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[api]\nsocket_path = \"khabar.sock\"\n\n[other]\nx = 1\n",
    )
    .unwrap();
    let out = khabar(server.dir.path(), None, &["status", "--json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[tokio::test]
async fn send_file_uploads_in_batches_and_summarises() {
    let server = TestServer::start().await;
    let file = server.dir.path().join("batch.ndjson");
    let mut lines = Vec::new();
    for i in 0..7 {
        lines.push(format!(
            r#"{{"to":"+7701123456{i}","text":"хабар {i}","reference":"b-{i}"}}"#
        ));
    }
    lines.push(r#"{"to":"+77011234560","text":"again","reference":"b-0"}"#.into()); // line 8
    lines.push("{not json".into()); // line 9
    lines.push(String::new()); // line 10: blank, skipped
    lines.push(r#"{"to":"555","text":"x"}"#.into()); // line 11
    lines.push(r#"{"to":"+77011234567","text":"x","kind":"spam"}"#.into()); // line 12
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();

    let out = khabar(
        server.dir.path(),
        Some(&server.path),
        &["send", "--file", "batch.ndjson", "--batch", "3"],
    )
    .await;
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "some lines were rejected: {text}"
    );
    assert!(text.contains("accepted:  7"), "{text}");
    assert!(text.contains("duplicate: 1"), "{text}");
    assert!(text.contains("rejected:  3"), "{text}");
    assert!(text.contains("line 9: invalid_json"), "{text}");
    assert!(text.contains("line 11: invalid_number"), "{text}");
    assert!(text.contains("line 12: unknown_kind"), "{text}");
    for i in 0..7 {
        let id = server.backend.message_by_ref(&format!("b-{i}"));
        assert!(id.is_some(), "b-{i} stored");
    }
}

#[tokio::test]
async fn status_is_a_table_or_the_report_as_json() {
    let server = TestServer::start().await;
    let out = khabar(server.dir.path(), Some(&server.path), &["status", "--json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: StatusReport = serde_json::from_slice(&out.stdout).expect("the report");
    assert_eq!(report.operators[0].name, "kcell");
    assert_eq!(report.lanes.len(), 4);

    let out = khabar(server.dir.path(), Some(&server.path), &["status"]).await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0));
    for heading in [
        "OPERATORS",
        "QUEUE",
        "RECEIPTS OVERDUE",
        "AT RISK",
        "OUTCOMES",
        "kcell",
        "notification",
    ] {
        assert!(text.contains(heading), "{heading} missing from\n{text}");
    }
}

#[tokio::test]
async fn show_tells_the_story_and_cancel_stops_a_queued_message() {
    let server = TestServer::start().await;
    let dir = server.dir.path();
    let sent = khabar(
        dir,
        Some(&server.path),
        &[
            "send",
            "--to",
            "77011234567",
            "--text",
            "Сәлем",
            "--ref",
            "s-1",
        ],
    )
    .await;
    let id = stdout(&sent).trim().to_string();

    let out = khabar(dir, Some(&server.path), &["show", "--ref", "s-1"]).await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        text.contains(&id) && text.contains("+77011234567") && text.contains("Сәлем"),
        "{text}"
    );
    assert!(text.contains("queued"), "{text}");

    let out = khabar(dir, Some(&server.path), &["cancel", &id]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("cancelled"));
    let out = khabar(dir, Some(&server.path), &["cancel", &id]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not_cancellable"));

    let out = khabar(dir, Some(&server.path), &["show", &id, "--json"]).await;
    let view: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let states: Vec<&str> = view["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["queued", "cancelled"]);
    let out = khabar(dir, Some(&server.path), &["show", "00000000000000ff"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("unknown_message"));
}

#[tokio::test]
async fn events_prints_and_acknowledges_on_its_cursor() {
    let server = TestServer::start().await;
    for _ in 0..5 {
        server.backend.push_event(None, State::Delivered);
    }
    let dir = server.dir.path();
    let out = khabar(
        dir,
        Some(&server.path),
        &["events", "--from", "ops", "--count", "3"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 3);
    assert!(text.lines().next().unwrap().starts_with("#1 "), "{text}");
    assert_eq!(server.backend.cursor("ops"), 3);
    // The next run resumes after the acknowledged events.
    let out = khabar(
        dir,
        Some(&server.path),
        &["events", "--from", "ops", "--count", "2", "--json"],
    )
    .await;
    let seqs: Vec<u64> = stdout(&out)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(seqs, [4, 5]);
}

#[tokio::test]
async fn otp_send_and_verify_report_through_exit_codes() {
    let server = TestServer::start().await;
    let dir = server.dir.path();
    let sock = Some(server.path.as_path());
    let out = khabar(
        dir,
        sock,
        &[
            "otp",
            "send",
            "--to",
            "77011234567",
            "--session",
            "egov-1",
            "--ttl",
            "5m",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).trim().parse::<MessageId>().is_ok());
    let out = khabar(
        dir,
        sock,
        &["otp", "send", "--to", "77011234567", "--session", "egov-1"],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("rate_limited"));

    let out = khabar(
        dir,
        sock,
        &["otp", "verify", "--session", "egov-1", "--code", "000000"],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("wrong_code (2 attempts left)"),
        "{}",
        stdout(&out)
    );
    let out = khabar(
        dir,
        sock,
        &["otp", "verify", "--session", "egov-1", "--code", OTP_CODE],
    )
    .await;
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out).trim(), "ok");
    let out = khabar(
        dir,
        sock,
        &["otp", "verify", "--session", "egov-1", "--code", OTP_CODE],
    )
    .await;
    assert_eq!(stdout(&out).trim(), "already_used");
}

#[tokio::test]
async fn every_command_explains_itself_with_an_example() {
    let dir = tempfile::tempdir().unwrap();
    let commands: [&[&str]; 10] = [
        &["--help"],
        &["run", "--help"],
        &["send", "--help"],
        &["status", "--help"],
        &["show", "--help"],
        &["events", "--help"],
        &["cancel", "--help"],
        &["otp", "--help"],
        &["otp", "send", "--help"],
        &["otp", "verify", "--help"],
    ];
    for args in commands {
        let out = khabar(dir.path(), None, args).await;
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let text = stdout(&out);
        assert!(text.contains("Usage:"), "{args:?}");
        assert!(text.contains("Example"), "{args:?} has no example:\n{text}");
    }
}

#[tokio::test]
async fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["send", "--text", "no recipient"][..],
        &[
            "send",
            "--to",
            "77011234567",
            "--text",
            "x",
            "--kind",
            "spam",
        ],
        &["show", "not-an-id"],
        &["send", "--file", "missing.ndjson"],
        &["launch"],
    ] {
        let out = khabar(dir.path(), Some(&dir.path().join("k.sock")), args).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
}
