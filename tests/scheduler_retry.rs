//! Failures: backoff, attempt limit, permanent refusals, deferrals; and the deadline watcher
//! task expiring a message before it could be sent.

mod store_support;

use khabar::message::{Kind, State, now_ms};
use khabar::scheduler::{Jitter, RetryPolicy, Scheduler, SchedulerConfig, run_deadline_watcher};
use std::time::Duration;
use store_support::{assert_consistent, message, open};
use tokio_util::sync::CancellationToken;

fn scheduler(store: &khabar::store::Store, max_attempts: u32) -> Scheduler {
    let retry = RetryPolicy {
        max_attempts,
        ..RetryPolicy::default()
    };
    Scheduler::new(
        store.clone(),
        SchedulerConfig {
            retry,
            ..SchedulerConfig::default()
        },
    )
}

#[tokio::test]
async fn transient_failures_back_off_exponentially_with_jitter() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let scheduler = scheduler(&store, 10);
    let policy = scheduler.config().retry.clone();
    assert_eq!(policy.jitter, Jitter::Equal);
    let id = store
        .accept(message(Kind::Notification, None))
        .await
        .unwrap()
        .id;
    let mut now = now_ms();
    for attempt in 1..=5u32 {
        let claimed = scheduler.next_due(now).await.unwrap().unwrap();
        assert_eq!((claimed.id, claimed.attempts), (id, attempt));
        let m = scheduler.retry(id, "ESME_RTHROTTLED", now).await.unwrap();
        let planned = policy.planned(attempt).as_millis() as i64;
        let waited = m.next_try - now;
        assert!(
            waited >= planned / 2 && waited <= planned,
            "attempt {attempt}: waited {waited} of {planned}"
        );
        assert!(scheduler.next_due(m.next_try - 1).await.unwrap().is_none());
        now = m.next_try;
    }
    assert_consistent(&store).await;
}

#[tokio::test]
async fn too_many_attempts_fail_with_the_last_reason() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let scheduler = scheduler(&store, 3);
    let id = store.accept(message(Kind::Bulk, None)).await.unwrap().id;
    let mut now = now_ms();
    let mut last = None;
    for attempt in 1..=3 {
        scheduler.next_due(now).await.unwrap().expect("due");
        let m = scheduler
            .retry(id, &format!("ESME_RSYSERR #{attempt}"), now)
            .await
            .unwrap();
        now = m.next_try.max(now);
        last = Some(m);
    }
    let m = last.unwrap();
    assert_eq!(m.state, State::Failed);
    assert_eq!(m.attempts, 3);
    let reason = m.history.last().unwrap().reason.clone().unwrap();
    assert!(
        reason.contains("ESME_RSYSERR #3") && reason.contains('3'),
        "{reason}"
    );
    assert!(scheduler.next_due(now + 3_600_000).await.unwrap().is_none());
    assert_consistent(&store).await;
}

#[tokio::test]
async fn a_permanent_refusal_rejects_and_a_deferral_keeps_the_count() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let scheduler = scheduler(&store, 10);
    let refused = store.accept(message(Kind::Request, None)).await.unwrap().id;
    let limited = store.accept(message(Kind::Request, None)).await.unwrap().id;
    let now = now_ms();
    scheduler.next_due(now).await.unwrap().unwrap();
    let m = scheduler
        .reject(refused, "ESME_RINVDSTADR", now)
        .await
        .unwrap();
    assert_eq!(m.state, State::Rejected);
    scheduler.next_due(now).await.unwrap().unwrap();
    let m = scheduler.defer(limited, now + 500, now).await.unwrap();
    assert_eq!((m.state, m.attempts), (State::Queued, 0));
    assert!(scheduler.next_due(now).await.unwrap().is_none());
    assert_eq!(
        scheduler.next_due(now + 500).await.unwrap().map(|m| m.id),
        Some(limited)
    );
    assert_consistent(&store).await;
}

#[tokio::test]
async fn the_watcher_expires_an_otp_that_could_not_be_sent_in_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let scheduler = scheduler(&store, 10);
    let mut otp = message(Kind::Otp, Some("otp-session-1"));
    otp.send_by = Some(now_ms() + 300);
    let id = scheduler.accept(otp, now_ms()).await.unwrap().id;
    let shutdown = CancellationToken::new();
    let watcher = tokio::spawn(run_deadline_watcher(
        store.clone(),
        Duration::from_millis(50),
        shutdown.clone(),
    ));
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while store.get(id).await.unwrap().unwrap().state != State::Expired {
        assert!(
            std::time::Instant::now() < deadline,
            "the watcher never expired the OTP"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        scheduler.next_due(now_ms()).await.unwrap().is_none(),
        "never sent late"
    );
    shutdown.cancel();
    watcher.await.unwrap();
    assert_consistent(&store).await;
}
