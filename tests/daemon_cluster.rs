//! The real daemon on the cluster engine (`[store] engine = "postgres"`), against the real
//! simulator and a real PostgreSQL the test starts (test-postgres): messages are accepted into
//! the database, sent, receipted and final there, `status` counts them, and a daemon started
//! again on the same database shows what the first one sent.
//!
//! These tests need PostgreSQL's server binaries and fail, saying so, without them.

mod daemon_support;

use daemon_support::{Daemon, cluster_store, otp_key, simulator, submit, wait_final, write_config};
use khabar::api::protocol::{MessageRef, OtpResult, OtpSent, OtpVerdict};
use khabar::message::State;
use serde_json::json;
use test_postgres::TestPostgres;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn messages_go_through_the_database_and_a_restarted_daemon_shows_them() {
    let pg = TestPostgres::start();
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim, &cluster_store(pg.port(), "node-a", ""));
    let daemon = Daemon::start(&config).await;
    let mut client = daemon.client().await;
    let sent = [
        (
            "+77011234567",
            "Your application is accepted",
            "notification",
        ),
        ("77071234569", "Код: 4821", "otp"),
        ("+77771234565", "Offices are closed on 16 December", "bulk"),
    ];
    let mut ids = Vec::new();
    for (to, text, kind) in sent {
        ids.push(submit(&mut client, to, text, kind).await);
    }
    for id in &ids {
        let view = wait_final(&mut client, *id).await;
        assert_eq!(view.state, State::Delivered, "{view:?}");
    }
    assert_eq!(sim.messages().len(), sent.len(), "each sent once");
    let status = client.status().await.unwrap().unwrap();
    assert_eq!(status.disk, None, "the disk is the database server's");
    let cluster = status.cluster.expect("status shows the cluster");
    assert!(
        cluster.nodes.iter().any(|n| n.name == "node-a" && n.alive),
        "{cluster:?}"
    );
    let mut held: Vec<(&str, &str)> = cluster
        .leases
        .iter()
        .map(|l| (l.operator.as_str(), l.node.as_str()))
        .collect();
    held.sort();
    let operators = sim.operators();
    let mut expected: Vec<(&str, &str)> = operators
        .iter()
        .map(|op| (op.name.as_str(), "node-a"))
        .collect();
    expected.sort();
    assert_eq!(held, expected, "node-a holds every operator's binds");
    assert!(cluster.database.contains("primary"), "{}", cluster.database);
    // and what an operator reads
    let shown = std::process::Command::new(env!("CARGO_BIN_EXE_khabar"))
        .args(["status", "--socket"])
        .arg(&daemon.socket)
        .output()
        .expect("khabar status");
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.contains("CLUSTER  database: PostgreSQL"), "{shown}");
    for op in &operators {
        let line = shown
            .lines()
            .find(|l| l.trim_start().starts_with(op.name.as_str()) && l.contains("node-a"))
            .unwrap_or_else(|| panic!("no lease line for {}: {shown}", op.name));
        assert!(line.contains("in "), "{line}");
    }
    assert_eq!(
        pg.psql(
            "postgres",
            "SELECT count(*) FROM messages WHERE state = 'delivered' AND finished_at IS NOT NULL"
        )
        .unwrap(),
        sent.len().to_string(),
        "the database holds them, final"
    );
    assert_eq!(
        pg.psql("postgres", "SELECT count(*) FROM operator_ids")
            .unwrap(),
        sent.len().to_string(),
        "each part's operator id, for its receipt"
    );
    daemon.stop().await;

    let daemon = Daemon::start(&config).await;
    let mut client = daemon.client().await;
    for id in &ids {
        let view = client.get(&MessageRef::Id(*id)).await.unwrap().unwrap();
        assert_eq!(view.state, State::Delivered);
    }
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_refused_by_the_database_says_why_and_does_not_start() {
    let pg = TestPostgres::start_with(test_postgres::Options {
        password: Some("the-right-one"),
        ..test_postgres::Options::default()
    });
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pg.pass"), "a-wrong-one\n").unwrap();
    let store = cluster_store(pg.port(), "node-a", "password_file = \"pg.pass\"\n");
    let config = khabar::config::Config::load(&write_config(dir.path(), &sim, &store)).unwrap();
    let socket = config.api.socket_path.clone();
    let refused = khabar::daemon::run_with(config, Default::default())
        .await
        .expect_err("a daemon the database refuses does not start");
    let said = refused.to_string();
    assert!(
        said.contains(&format!(
            "cannot connect to the database postgres at 127.0.0.1:{}",
            pg.port()
        )),
        "{said}"
    );
    assert!(
        !said.contains("a-wrong-one"),
        "the password is never shown: {said}"
    );
    assert!(!socket.exists(), "nothing was served");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_otp_asked_of_a_node_without_binds_goes_out_from_the_holder_and_verifies() {
    let pg = TestPostgres::start();
    let sim = simulator().await;
    let shared = tempfile::tempdir().unwrap();
    let key = otp_key(&shared.path().join("otp.key"));
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let holder = cluster_store(pg.port(), "node-a", &key);
    let _a = Daemon::start(&write_config(dir_a.path(), &sim, &holder)).await;
    // node-b binds no operator: what it accepts goes out through node-a's binds
    let other = cluster_store(
        pg.port(),
        "node-b",
        &format!("{key}[cluster]\nbinds = []\n"),
    );
    let b = Daemon::start(&write_config(dir_b.path(), &sim, &other)).await;
    let mut client = b.client().await;
    let to = "77011234567";
    let sent: OtpSent = client
        .call(json!({"op": "otp_send", "to": to, "session": "login-via-b"}))
        .await
        .expect("socket")
        .expect("a code is sent");
    let view = wait_final(&mut client, sent.message_id).await;
    assert_eq!(view.state, State::Delivered, "{view:?}");
    let sms = sim
        .messages()
        .into_iter()
        .find(|m| to.ends_with(&m.destination))
        .expect("the code reached the phone");
    let code: String = sms.text.chars().filter(char::is_ascii_digit).collect();
    let verdict: OtpVerdict = client
        .call(json!({"op": "otp_verify", "session": "login-via-b", "code": code}))
        .await
        .expect("socket")
        .expect("a verdict");
    assert_eq!(verdict.result, OtpResult::Ok, "{verdict:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_another_otp_key_says_so_and_does_not_start() {
    let pg = TestPostgres::start();
    let sim = simulator().await;
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // each node creates a key file of its own in its data folder
    let first = write_config(dir_a.path(), &sim, &cluster_store(pg.port(), "node-a", ""));
    let _a = Daemon::start(&first).await;
    let second = write_config(dir_b.path(), &sim, &cluster_store(pg.port(), "node-b", ""));
    let config = khabar::config::Config::load(&second).unwrap();
    let socket = config.api.socket_path.clone();
    let refused = khabar::daemon::run_with(config, Default::default())
        .await
        .expect_err("a node whose OTP key differs from the cluster's does not start");
    let said = refused.to_string();
    assert!(said.contains("OTP key file"), "{said}");
    assert!(said.contains("same key file"), "{said}");
    assert!(!socket.exists(), "nothing was served");
}
