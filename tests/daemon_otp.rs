//! One-time passwords through the real daemon and simulator (seed 001): the subscriber gets
//! the code by SMS, it verifies once, wrong codes are refused at once and counted, and the
//! code is nowhere in the store's files or in `get`.

mod daemon_support;

use daemon_support::{Daemon, PATIENCE, simulator, wait_final, write_config};
use khabar::api::client::Client;
use khabar::api::protocol::{MessageRef, OtpResult, OtpSent, OtpVerdict};
use khabar::message::State;
use serde_json::json;
use smpp_sim::SimHandle;

/// Sends a code for `session` to `to` and returns what the subscriber's phone shows.
async fn send_code(
    client: &mut Client,
    sim: &SimHandle,
    to: &str,
    session: &str,
) -> (OtpSent, String) {
    let sent: OtpSent = client
        .call(json!({"op": "otp_send", "to": to, "session": session}))
        .await
        .expect("socket")
        .expect("code sent");
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(sms) = sim
            .messages()
            .into_iter()
            .rev()
            .find(|m| to.ends_with(&m.destination))
        {
            let code: String = sms.text.chars().filter(char::is_ascii_digit).collect();
            return (sent, code);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the code never reached the phone"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn verify(client: &mut Client, session: &str, code: &str) -> OtpVerdict {
    client
        .call(json!({"op": "otp_verify", "session": session, "code": code}))
        .await
        .expect("socket")
        .expect("a verdict")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_code_sent_by_sms_verifies_once() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(&write_config(dir.path(), &sim, "")).await;
    let mut client = daemon.client().await;
    let (sent, code) = send_code(&mut client, &sim, "77011234567", "egov-session-1").await;
    assert_eq!(code.len(), 6, "six digits by default");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let verdict = verify(&mut client, "egov-session-1", wrong).await;
    assert_eq!(verdict.result, OtpResult::WrongCode);
    assert_eq!(verdict.attempts_left, Some(2));
    assert_eq!(
        verify(&mut client, "egov-session-1", &code).await.result,
        OtpResult::Ok
    );
    assert_eq!(
        verify(&mut client, "egov-session-1", &code).await.result,
        OtpResult::AlreadyUsed
    );
    assert_eq!(
        verify(&mut client, "another-session", &code).await.result,
        OtpResult::UnknownSession
    );
    let view = client
        .get(&MessageRef::Id(sent.message_id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(view.text, None, "`get` never shows an OTP's text");
    daemon.stop().await;
    for file in walk(&dir.path().join("data")) {
        let bytes = std::fs::read(&file).unwrap();
        let found = bytes.windows(code.len()).any(|w| w == code.as_bytes());
        // a 6-digit string can occur by chance only in binary data, never next to the template
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !(found && text.contains(&format!(": {code}"))),
            "the code is readable in {}",
            file.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn attempts_run_out_and_resends_are_limited() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(&write_config(dir.path(), &sim, "")).await;
    let mut client = daemon.client().await;
    let (_, code) = send_code(&mut client, &sim, "77051234567", "s-2").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for left in [2, 1, 0] {
        let verdict = verify(&mut client, "s-2", wrong).await;
        assert_eq!(
            (verdict.result, verdict.attempts_left),
            (OtpResult::WrongCode, Some(left))
        );
    }
    assert_eq!(
        verify(&mut client, "s-2", &code).await.result,
        OtpResult::TooManyAttempts,
        "the session is locked: even the right code is refused"
    );
    let again = client
        .call::<OtpSent>(json!({"op": "otp_send", "to": "77051234567", "session": "s-3"}))
        .await
        .unwrap();
    let error = again.expect_err("a second code within 60 s is refused");
    assert_eq!(error.code.as_str(), "rate_limited");
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_code_replaced_before_it_went_out_is_not_sent() {
    let sim = simulator().await;
    let operators: Vec<String> = sim.operators().into_iter().map(|op| op.name).collect();
    for name in &operators {
        sim.update_faults(name, |f| f.down = true).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim, "[otp]\nresend_after = \"0s\"\n");
    let daemon = Daemon::start(&config).await;
    let mut client = daemon.client().await;
    let to = "77071234567";
    let mut sent = Vec::new();
    for _ in 0..2 {
        let answer: OtpSent = client
            .call(json!({"op": "otp_send", "to": to, "session": "s-replaced"}))
            .await
            .expect("socket")
            .expect("code queued");
        sent.push(answer.message_id);
    }
    for name in &operators {
        sim.update_faults(name, |f| f.down = false).unwrap();
    }
    let first = wait_final(&mut client, sent[0]).await;
    assert_eq!(
        first.state,
        State::Cancelled,
        "the replaced code is not sent"
    );
    let reason = first.history.last().and_then(|t| t.reason.clone());
    assert_eq!(
        reason.as_deref(),
        Some("a newer code was issued for its session")
    );
    let second = wait_final(&mut client, sent[1]).await;
    assert_eq!(second.state, State::Delivered);
    let phone: Vec<_> = (sim.messages().into_iter())
        .filter(|m| to.ends_with(&m.destination))
        .collect();
    assert_eq!(phone.len(), 1, "one SMS reached the phone");
    let code: String = phone[0].text.chars().filter(char::is_ascii_digit).collect();
    assert_eq!(
        verify(&mut client, "s-replaced", &code).await.result,
        OtpResult::Ok,
        "the code that went out verifies"
    );
    daemon.stop().await;
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
