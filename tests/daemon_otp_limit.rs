//! One-time passwords have one per-recipient limit, durable and a true rolling hour, counted
//! for `otp_send` and for `submit` of kind `otp` alike: over it an OTP that could never go out
//! before its `send_by` is refused `rate_limited`, one that can is held until its place; the
//! limit holds across a restart, and nothing over it reaches the SMSC.

mod daemon_support;
#[path = "daemon_faults/helpers.rs"]
mod helpers;

use daemon_support::{Daemon, Tuning, simulator, submit, wait_final, write_tuned_config};
use helpers::{get, kcell_number, received_by_destination, rfc3339_in};
use khabar::api::ErrorCode;
use khabar::api::protocol::OtpSent;
use khabar::message::State;
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_per_number_otp_limit_is_one_durable_rolling_hour_told_truthfully() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let tuning = Tuning {
        extra: "[otp]\nmax_per_hour = 2\n".into(),
        ..Tuning::default()
    };
    let config = write_tuned_config(dir.path(), &sim, &tuning);
    let daemon = Daemon::start(&config).await;
    let mut client = daemon.client().await;
    let to = kcell_number(7, 1);
    let sent = client
        .call::<OtpSent>(json!({"op": "otp_send", "session": "login-1", "to": to}))
        .await
        .expect("socket")
        .expect("a code");
    let raw = submit(&mut client, &to, "code 2222", "otp").await;
    for id in [sent.message_id, raw] {
        assert_eq!(wait_final(&mut client, id).await.state, State::Delivered);
    }

    // Over the limit with the OTP default send_by (60 s): its place is an hour away.
    let hasty = client
        .submit(json!({"to": to, "text": "code 3333", "kind": "otp"}))
        .await
        .expect("socket")
        .expect_err("refused");
    assert_eq!(hasty.code, ErrorCode::RateLimited, "{hasty:?}");
    assert!(hasty.retry_after_s.is_some_and(|s| s > 60), "{hasty:?}");
    // otp_send counts against the same limit and does not answer ok for a code it won't send.
    let code = client
        .call::<OtpSent>(json!({"op": "otp_send", "session": "login-2", "to": to}))
        .await
        .expect("socket")
        .expect_err("refused");
    assert_eq!(code.code, ErrorCode::RateLimited, "{code:?}");
    // One that may wait two hours is accepted and held until its place in the hour.
    let patient = client
        .submit(json!({
            "to": to, "text": "code 4444", "kind": "otp",
            "send_by": rfc3339_in(Duration::from_secs(2 * 3600)),
        }))
        .await
        .expect("socket")
        .expect("accepted")
        .message_id;
    let held = get(&mut client, patient).await;
    assert_eq!(held.state, State::Queued, "{held:?}");
    let until = held.held_until.expect("held");
    assert!(until > held.created + 3_000_000, "{held:?}");
    // Another number is not held back.
    let other_to = kcell_number(7, 2);
    let other = submit(&mut client, &other_to, "code 5555", "otp").await;
    assert_eq!(wait_final(&mut client, other).await.state, State::Delivered);
    daemon.stop().await;

    // After a restart the hour still counts what went before it.
    let daemon = Daemon::start(&config).await;
    let mut client = daemon.client().await;
    let after = client
        .submit(json!({"to": to, "text": "code 6666", "kind": "otp"}))
        .await
        .expect("socket")
        .expect_err("still over the limit");
    assert_eq!(after.code, ErrorCode::RateLimited, "{after:?}");
    assert_eq!(get(&mut client, patient).await.state, State::Queued);
    let received = received_by_destination(&sim);
    assert_eq!(
        received.get(&to),
        Some(&2),
        "the limit let a third OTP through"
    );
    assert_eq!(received.get(&other_to), Some(&1));
    daemon.stop().await;
}
