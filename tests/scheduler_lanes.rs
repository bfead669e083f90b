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
    let store = open(dir.path()).await;
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
    let store = open(dir.path()).await;
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
    let due = store.get(otp).await.unwrap().unwrap().next_try;
    assert_eq!(
        scheduler.next_due(due).await.unwrap().map(|m| m.id),
        Some(otp)
    );
}

#[tokio::test]
async fn bulk_gets_its_minimum_share_under_a_flood_of_otps() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
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

#[tokio::test]
async fn an_otp_only_loop_between_batches_leaves_the_lower_lanes_their_share() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let (notifications, bulks, share) = (1_000, 100, 0.02);
    store
        .accept_batch(
            (0..notifications)
                .map(|_| message(Kind::Notification, None))
                .collect(),
        )
        .await;
    store
        .accept_batch((0..bulks).map(|_| message(Kind::Bulk, None)).collect())
        .await;
    let scheduler = Scheduler::new(store.clone(), config(0.0, 0.0, share));
    let main_lanes = [Kind::Request, Kind::Notification, Kind::Bulk];
    let now = now_ms();
    let (batches, batch) = (10, 64);
    let mut bulk_picks = 0;
    for _ in 0..batches {
        // what the daemon's OTP loop does between the main loop's batches
        assert!(
            scheduler
                .next_batch(now, 16, &[Kind::Otp])
                .await
                .unwrap()
                .is_empty()
        );
        let claimed = scheduler.next_batch(now, batch, &main_lanes).await.unwrap();
        assert_eq!(claimed.len(), batch);
        bulk_picks += claimed.iter().filter(|m| m.kind == Kind::Bulk).count();
    }
    let expected = (batches * batch) as f64 * share;
    assert!(
        (bulk_picks as f64 - expected).abs() <= 1.0,
        "{bulk_picks} bulk picks of {}, expected {expected}",
        batches * batch
    );
    assert_consistent(&store).await;
}

#[test]
fn otps_in_a_row_leave_the_lower_lanes_their_shares_together() {
    for (request, notification, bulk) in [(0.05, 0.05, 0.02), (0.1, 0.0, 0.0), (0.3, 0.2, 0.1)] {
        let shares = LaneShares {
            request,
            notification,
            bulk,
        };
        let together = request + notification + bulk;
        let run = shares.urgent_run().expect("shares are set") as f64;
        // one other job after `run` OTPs gives the others 1 / (run + 1) of the jobs
        assert!(
            1.0 / (run + 1.0) >= together - 1e-9,
            "{together}: run {run}"
        );
        assert!(
            1.0 / (run + 2.0) < together,
            "{together}: run {run} is not the longest"
        );
    }
    let none = LaneShares {
        request: 0.0,
        notification: 0.0,
        bulk: 0.0,
    };
    assert_eq!(none.urgent_run(), None);
}
