//! Backup and restore as docs/OPERATIONS.md documents them: stop the daemon, copy the whole
//! data directory (`cp -a`), and later put that copy back in place of a lost one and start.
//! Every message comes back in the state it had, those still queued are then sent, and a
//! one-time password issued before the backup still verifies (the OTP key is in the copy).

mod daemon_support;

use daemon_support::{Daemon, simulator, wait_final, write_config};
use helpers::{OPERATORS, fault_everywhere, get, kcell_number, submit_many, wait_all_final};
use khabar::message::State;
use smpp_sim::Fault;
use std::process::Command;

#[path = "daemon_faults/helpers.rs"]
mod helpers;

fn cp_a(from: &std::path::Path, to: &std::path::Path) {
    let status = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "cp -a {} {}",
        from.display(),
        to.display()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_copy_of_the_stopped_data_directory_restores_every_message_and_the_otp_key() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim, "");
    let daemon = Daemon::start(&config).await;
    let mut client = daemon.client().await;
    // delivered before the backup
    let delivered = submit_many(
        &mut client,
        100,
        "notification",
        |n| kcell_number(1, n),
        |n| format!("before the backup {n}"),
    )
    .await;
    let views = wait_all_final(&mut client, delivered.iter().map(|(id, _)| *id)).await;
    assert!(views.values().all(|v| v.state == State::Delivered));
    // an OTP, whose code the SMSC received
    let otp = client
        .request(serde_json::json!({
            "op": "otp_send", "to": "+77015550017", "session": "backup-1"
        }))
        .await
        .unwrap();
    let otp_id: khabar::message::MessageId = otp.result.as_ref().unwrap()["message_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        wait_final(&mut client, otp_id).await.state,
        State::Delivered
    );
    let code: String = sim
        .messages()
        .into_iter()
        .find(|m| m.destination == "77015550017")
        .expect("the OTP SMS")
        .text
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    // queued at the backup: every operator is down
    fault_everywhere(&sim, &Fault::Down);
    let queued = submit_many(
        &mut client,
        100,
        "notification",
        |n| kcell_number(2, n),
        |n| format!("queued at the backup {n}"),
    )
    .await;
    drop(client);
    daemon.stop().await;

    // the backup, then the loss, then the restore
    let data = dir.path().join("data");
    let backup = dir.path().join("backup");
    cp_a(&data, &backup);
    std::fs::remove_dir_all(&data).unwrap();
    cp_a(&backup, &data);

    let daemon = Daemon::start(&config).await;
    let mut client = daemon.client().await;
    for (id, _) in &delivered {
        assert_eq!(get(&mut client, *id).await.state, State::Delivered);
    }
    for (id, _) in &queued {
        // still waiting for an operator (the sending stage may be looking at it just now)
        let state = get(&mut client, *id).await.state;
        assert!(
            matches!(state, State::Queued | State::Submitting),
            "{state:?}"
        );
    }
    fault_everywhere(&sim, &Fault::Up);
    let views = wait_all_final(&mut client, queued.iter().map(|(id, _)| *id)).await;
    assert!(views.values().all(|v| v.state == State::Delivered));
    let verified = client
        .request(serde_json::json!({
            "op": "otp_verify", "session": "backup-1", "code": code
        }))
        .await
        .unwrap();
    assert_eq!(
        verified.result.as_ref().unwrap()["result"],
        "ok",
        "{verified:?}"
    );
    assert_eq!(OPERATORS.len(), sim.stats().len());
    daemon.stop().await;
}
