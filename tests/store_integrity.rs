//! The integrity check finds damage: an index entry removed behind the store's back is
//! reported, and a healthy store reports nothing.

mod store_support;

use khabar::message::{Kind, now_ms};
use khabar::store::keys;
use store_support::{assert_consistent, message, open};

#[tokio::test]
async fn damaged_indexes_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let submitted = {
        let store = open(dir.path()).await;
        let batch = (0..40)
            .map(|i| message(Kind::ALL[i % 4], Some(&format!("ref-{i}"))))
            .collect();
        store
            .accept_batch(batch)
            .await
            .into_iter()
            .for_each(|a| assert!(a.is_ok()));
        let m = store
            .claim_next(Kind::Otp, now_ms() + 1)
            .await
            .unwrap()
            .unwrap();
        store
            .mark_submitted(m.id, "kcell", vec!["abc".into()], None)
            .await
            .unwrap();
        assert_consistent(&store).await;
        m.id
    };
    {
        let db = sled::open(dir.path().join("store")).unwrap();
        let queue_chunk = db.scan_prefix(keys::QUEUE).next().unwrap().unwrap().0;
        db.remove(queue_chunk).unwrap();
        db.remove(keys::operator_id("kcell", "abc")).unwrap();
        db.flush().unwrap();
    }
    let store = open(dir.path()).await;
    let problems = store.verify_integrity().await.unwrap();
    assert!(
        problems.iter().any(|p| p.contains("queued for")),
        "{problems:#?}"
    );
    let part = format!("{submitted} part 0");
    assert!(problems.iter().any(|p| p.contains(&part)), "{problems:#?}");
}
