//! The socket and the CLI against the real daemon and simulator: garbage and idle
//! connections do not stop a good client, a subscriber that reconnects misses nothing and sees
//! nothing twice, `khabar status` (table and JSON) shows a bind going down, `khabar show`
//! tells a message's story.

mod daemon_support;

use daemon_support::{Daemon, PATIENCE, simulator, submit, wait_final, write_config};
use khabar::api::views::BindState;
use khabar::message::State;
use rand::RngCore;
use std::collections::BTreeSet;
use std::process::Command;
use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;

fn khabar(socket: &std::path::Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_khabar"))
        .arg("--socket")
        .arg(socket)
        .args(args)
        .output()
        .expect("run khabar");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn garbage_and_idle_connections_do_not_stop_a_good_client() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    // the idle and garbage connections are this test's user too: let one user hold them all
    let config = write_config(dir.path(), &sim, "");
    let text = std::fs::read_to_string(&config).unwrap();
    let text = text.replacen("[api]\n", "[api]\nmax_connections_per_uid = 1023\n", 1);
    std::fs::write(&config, text).unwrap();
    let daemon = Daemon::start(&config).await;
    let mut idle = Vec::new();
    for _ in 0..1000 {
        idle.push(UnixStream::connect(&daemon.socket).await.unwrap());
    }
    let mut flooders = Vec::new();
    for round in 0..4 {
        let socket = daemon.socket.clone();
        flooders.push(tokio::spawn(async move {
            let mut stream = UnixStream::connect(&socket).await.unwrap();
            let mut junk = vec![0u8; 2 << 20];
            rand::rng().fill_bytes(&mut junk);
            if round == 0 {
                junk = vec![b'x'; 10 << 20]; // one 10 MB line
            }
            let _ = stream.write_all(&junk).await;
            let _ = stream.write_all(b"\n{\"op\":\"ping\"}\n").await;
        }));
    }
    let mut client = daemon.client().await;
    let mut ids = Vec::new();
    for n in 0..50 {
        ids.push(
            submit(
                &mut client,
                &format!("7701{:07}", 5_550_000 + n * 10 + 5),
                "still served",
                "bulk",
            )
            .await,
        );
    }
    for flooder in flooders {
        flooder.await.unwrap();
    }
    for id in ids {
        assert_eq!(wait_final(&mut client, id).await.state, State::Delivered);
    }
    drop(idle);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reconnecting_subscriber_misses_nothing_and_sees_nothing_twice() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(&write_config(dir.path(), &sim, "")).await;
    let mut client = daemon.client().await;
    let mut seen = Vec::new();
    let mut ids = BTreeSet::new();
    for n in 0..10 {
        ids.insert(
            submit(
                &mut client,
                &format!("7705{:07}", 1_000 + n * 10 + 7),
                "event",
                "notification",
            )
            .await,
        );
    }
    // A first subscriber takes a few events, acknowledges them and disconnects.
    let mut delivered = BTreeSet::new();
    let mut sub = daemon
        .client()
        .await
        .subscribe(Some("crm"), None)
        .await
        .unwrap();
    for _ in 0..5 {
        let event = tokio::time::timeout(PATIENCE, sub.next_event())
            .await
            .unwrap()
            .unwrap();
        sub.ack(event.seq).await.unwrap();
        seen.push(event.seq);
        if event.state == Some(State::Delivered) {
            delivered.insert(event.message_id.unwrap());
        }
    }
    sub.finish().await.unwrap();
    for id in &ids {
        wait_final(&mut client, *id).await;
    }
    // The next connection resumes after the last acknowledged event.
    let mut sub = daemon
        .client()
        .await
        .subscribe(Some("crm"), None)
        .await
        .unwrap();
    while delivered.len() < ids.len() {
        let event = tokio::time::timeout(PATIENCE, sub.next_event())
            .await
            .expect("more events")
            .unwrap();
        assert!(!seen.contains(&event.seq), "event {} seen twice", event.seq);
        seen.push(event.seq);
        sub.ack(event.seq).await.unwrap();
        if event.state == Some(State::Delivered) {
            delivered.insert(event.message_id.unwrap());
        }
    }
    let mut sorted = seen.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, seen, "in order");
    assert_eq!(
        sorted,
        (seen[0]..seen[0] + seen.len() as u64).collect::<Vec<_>>(),
        "no gaps"
    );
    assert_eq!(delivered, ids);
    sub.finish().await.unwrap();
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn status_and_show_tell_what_happens() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(&write_config(dir.path(), &sim, "")).await;
    let mut client = daemon.client().await;
    let id = submit(&mut client, "+77011234567", "a story", "notification").await;
    wait_final(&mut client, id).await;
    let (ok, story) = khabar(&daemon.socket, &["show", &id.to_string()]);
    assert!(ok, "{story}");
    for word in ["queued", "submitted", "delivered", "kcell", "DELIVRD"] {
        assert!(story.contains(word), "`show` lacks {word}:\n{story}");
    }

    sim.set_down("kcell", true).unwrap();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let status = client.status().await.unwrap().unwrap();
        let kcell = status.operators.iter().find(|o| o.name == "kcell").unwrap();
        if kcell.binds.iter().all(|b| b.state != BindState::Up) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "kcell never shown down"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (ok, json) = khabar(&daemon.socket, &["status", "--json"]);
    assert!(ok);
    let status: serde_json::Value = serde_json::from_str(&json).expect("status --json is JSON");
    let kcell = status["operators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "kcell")
        .unwrap();
    assert!(
        kcell["binds"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["state"] != "up")
    );
    let (ok, table) = khabar(&daemon.socket, &["status"]);
    assert!(ok);
    let line = table
        .lines()
        .find(|l| l.starts_with("kcell"))
        .expect("a kcell row");
    assert!(line.contains("0/2"), "kcell's binds shown down: {line}");
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_second_daemon_on_the_same_config_refuses_and_the_first_keeps_serving() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim, "");
    let daemon = Daemon::start(&config).await;
    let second = Command::new(env!("CARGO_BIN_EXE_khabar"))
        .arg("--config")
        .arg(&config)
        .arg("run")
        .output()
        .expect("run khabar");
    let said = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success(), "the second daemon ran: {said}");
    assert!(said.contains("already running"), "{said}");
    let mut client = daemon.client().await;
    let id = submit(&mut client, "+77011234567", "still here", "notification").await;
    assert_eq!(wait_final(&mut client, id).await.state, State::Delivered);
    daemon.stop().await;
}
