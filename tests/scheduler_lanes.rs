//! Lane order and minimum shares, over a real store.

mod store_support;

use khabar::message::{Kind, now_ms};
use khabar::scheduler::{LaneShares, Scheduler, SchedulerConfig};
use store_support::{assert_consistent, message, open};

fn config(request: f64, notification: f64, bulk: f64) -> SchedulerConfig {
    SchedulerConfig {
        min_share: LaneShares {
            request,
            notification,
            bulk,
        },
        ..SchedulerConfig::default()
    }
}

#[tokio::test]
async fn lanes_are_served_otp_first_then_request_notification_bulk() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    // accepted lowest priority first, so id order would give the opposite answer
    for kind in [Kind::Bulk, Kind::Notification, Kind::Request, Kind::Otp] {
        store.accept(message(kind, None)).await.unwrap();
    }
    let scheduler = Scheduler::new(store.clone(), config(0.0, 0.0, 0.0));
    let now = now_ms();
    let mut order = Vec::new();
    while let Some(m) = scheduler.next_due(now).await.unwrap() {
        order.push(m.kind);
    }
    assert_eq!(order, Kind::ALL.to_vec());
    assert_consistent(&store).await;
}

#[tokio::test]
async fn a_message_due_later_waits_even_in_a_higher_lane() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let otp = store.accept(message(Kind::Otp, None)).await.unwrap().id;
    let bulk = store.accept(message(Kind::Bulk, None)).await.unwrap().id;
    let scheduler = Scheduler::new(store.clone(), config(0.0, 0.0, 0.0));
    let now = now_ms();
    let first = scheduler.next_due(now).await.unwrap().unwrap();
    assert_eq!(first.id, otp);
    scheduler.retry(otp, "ESME_RTHROTTLED", now).await.unwrap();
    let second = scheduler.next_due(now).await.unwrap().unwrap();
    assert_eq!(second.id, bulk, "the retried OTP is not due yet");
    assert!(scheduler.next_due(now).await.unwrap().is_none());
    let due = store.get(otp).unwrap().unwrap().next_try;
    assert_eq!(
        scheduler.next_due(due).await.unwrap().map(|m| m.id),
        Some(otp)
    );
}

#[tokio::test]
async fn bulk_gets_its_minimum_share_under_a_flood_of_otps() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let otps = 400;
    let bulks = 100;
    let share = 0.05;
    store
        .accept_batch((0..otps).map(|_| message(Kind::Otp, None)).collect())
        .await;
    store
        .accept_batch((0..bulks).map(|_| message(Kind::Bulk, None)).collect())
        .await;
    let scheduler = Scheduler::new(store.clone(), config(0.0, 0.0, share));
    let now = now_ms();
    let picks = 200;
    let mut bulk_picks = 0;
    for _ in 0..picks {
        let m = scheduler.next_due(now).await.unwrap().unwrap();
        if m.kind == Kind::Bulk {
            bulk_picks += 1;
        }
    }
    let expected = picks as f64 * share;
    assert!(
        (bulk_picks as f64 - expected).abs() <= 1.0,
        "{bulk_picks} bulk picks of {picks}, expected {expected}"
    );
    assert_consistent(&store).await;
}
