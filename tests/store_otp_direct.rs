//! OTPs claimed at acceptance (`Store::take_otps_at_accept`): the sending stage's fast path.

mod store_support;

use khabar::message::{Kind, State, now_ms};
use std::time::Duration;
use store_support::{assert_consistent, message, open};

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn an_accepted_otp_arrives_claimed_and_other_kinds_stay_queued() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let mut taken = store
        .take_otps_at_accept()
        .expect("the sled engine claims OTPs at accept");
    let accepted = store
        .accept_batch(vec![
            message(Kind::Bulk, None),
            message(Kind::Otp, Some("otp-1")),
            message(Kind::Notification, None),
        ])
        .await;
    let ids: Vec<_> = accepted.into_iter().map(|a| a.unwrap().id).collect();

    let otp = tokio::time::timeout(WAIT, taken.recv())
        .await
        .expect("the OTP is handed over")
        .expect("the store still hands over");
    assert_eq!(
        (otp.id, otp.state, otp.attempts),
        (ids[1], State::Submitting, 1)
    );
    let stored = store.get(otp.id).await.unwrap().expect("stored");
    assert_eq!(stored.state, State::Submitting, "readers see the claim");
    assert!(taken.try_recv().is_err(), "only the OTP is handed over");
    let now = now_ms();
    let left = store.claim_batch(Kind::Otp, now, 10).await.unwrap();
    assert!(left.is_empty(), "the OTP lane holds nothing more");
    for kind in [Kind::Bulk, Kind::Notification] {
        let claimed = store.claim_batch(kind, now, 10).await.unwrap();
        assert_eq!(claimed.len(), 1, "{kind:?} waits for its claim loop");
    }
    assert_consistent(&store).await;

    // a claim made at acceptance is on disk like any other: a restart puts it back in the lane
    drop(store);
    let store = open(dir.path()).await;
    assert_eq!(
        store.recovered_at_open(),
        3,
        "the OTP and the two claimed above"
    );
    let again = store.claim_batch(Kind::Otp, now_ms(), 10).await.unwrap();
    assert_eq!(again.iter().map(|m| m.id).collect::<Vec<_>>(), vec![otp.id]);
}

#[tokio::test]
async fn with_nobody_listening_otps_wait_in_their_lane() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    drop(
        store
            .take_otps_at_accept()
            .expect("the sled engine claims OTPs at accept"),
    );
    let id = store.accept(message(Kind::Otp, None)).await.unwrap().id;
    assert_eq!(
        store.get(id).await.unwrap().expect("stored").state,
        State::Queued
    );
    let claimed = store.claim_batch(Kind::Otp, now_ms(), 10).await.unwrap();
    assert_eq!(claimed.iter().map(|m| m.id).collect::<Vec<_>>(), vec![id]);
}

#[tokio::test]
async fn several_otps_accepted_together_all_arrive_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let mut taken = store
        .take_otps_at_accept()
        .expect("the sled engine claims OTPs at accept");
    let clients: Vec<_> = (0..20)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let reference = format!("otp-{i}");
                store.accept(message(Kind::Otp, Some(&reference))).await
            })
        })
        .collect();
    let mut ids = Vec::new();
    for client in clients {
        ids.push(client.await.unwrap().unwrap().id);
    }
    let mut arrived = Vec::new();
    while arrived.len() < ids.len() {
        let otp = tokio::time::timeout(WAIT, taken.recv())
            .await
            .expect("every OTP is handed over")
            .expect("the store still hands over");
        arrived.push(otp.id);
    }
    ids.sort();
    arrived.sort();
    assert_eq!(arrived, ids);
    assert!(taken.try_recv().is_err(), "none twice");
    assert_consistent(&store).await;
}

#[tokio::test]
async fn an_otp_held_for_its_place_is_claimed_only_when_its_place_comes() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let mut taken = store
        .take_otps_at_accept()
        .expect("the sled engine claims OTPs at accept");
    let until = now_ms() + 3_600_000;
    let mut held = message(Kind::Otp, None);
    held.extra.held_until = Some(until);
    let id = store.accept(held).await.unwrap().id;
    // neither at acceptance nor by a claim before its place
    assert!(taken.try_recv().is_err());
    assert!(
        store
            .claim_batch(Kind::Otp, now_ms(), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let queued = store.get(id).await.unwrap().unwrap();
    assert_eq!((queued.state, queued.next_try), (State::Queued, until));
    assert_consistent(&store).await;
    let claimed = store.claim_batch(Kind::Otp, until, 10).await.unwrap();
    assert_eq!(claimed.iter().map(|m| m.id).collect::<Vec<_>>(), vec![id]);
    assert_consistent(&store).await;
}
