//! Many changes and receipts at once on the cluster engine, against a real PostgreSQL
//! (test-postgres): the writer commits what waits together, running the ops of different
//! messages at once on its connection. Every message's submit result and its receipt, sent
//! together and in either order, end in `delivered`; no receipt is left parked.
//!
//! These tests need PostgreSQL's server binaries and fail, saying so, without them.

mod store_support;

use khabar::message::{Kind, MessageId, State, now_ms};
use khabar::operator_id::id_candidates;
use khabar::store::StoreConfig;
use khabar::store::rules::Change;
use std::collections::HashSet;
use store_support::{message, open_cluster};
use test_postgres::TestPostgres;

const MESSAGES: usize = 400;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_results_and_receipts_sent_together_all_end_delivered() {
    let pg = TestPostgres::start();
    let store = open_cluster(&pg, "node-a", StoreConfig::default()).await;
    let batch = (0..MESSAGES)
        .map(|i| message(Kind::Bulk, Some(&format!("g{i}"))))
        .collect();
    let ids: Vec<MessageId> = store
        .accept_batch(batch)
        .await
        .into_iter()
        .map(|a| a.unwrap().id)
        .collect();
    let mut claimed = HashSet::new();
    while claimed.len() < MESSAGES {
        let batch = store.claim_batch(Kind::Bulk, now_ms(), 64).await.unwrap();
        assert!(!batch.is_empty(), "every accepted message can be claimed");
        claimed.extend(batch.into_iter().map(|m| m.id));
    }

    // for each message at once: the operator's answer and its receipt, the receipt first for
    // every other message
    let mut tasks = tokio::task::JoinSet::new();
    for (i, id) in ids.iter().copied().enumerate() {
        let operator_id = format!("G{i:05}");
        let answer = {
            let store = store.clone();
            let operator_id = operator_id.clone();
            async move {
                let accepted = Change::Accepted {
                    operator: "kcell".into(),
                    parts: 1,
                    accepted: vec![(0, operator_id)],
                    concat_ref: None,
                    give_up_at: None,
                };
                store.change(id, accepted, now_ms()).await.map(drop)
            }
        };
        let receipt = {
            let store = store.clone();
            async move {
                store
                    .record_or_park_receipt(
                        "kcell",
                        id_candidates(&operator_id),
                        "DELIVRD",
                        None,
                        now_ms(),
                    )
                    .await
                    .map(drop)
            }
        };
        if i % 2 == 0 {
            tasks.spawn(answer);
            tasks.spawn(receipt);
        } else {
            tasks.spawn(receipt);
            tasks.spawn(answer);
        }
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap().expect("every change and receipt is taken");
    }

    for id in &ids {
        let m = store.get(*id).await.unwrap().unwrap();
        assert_eq!(m.state, State::Delivered, "{id}: {:?}", m.history);
    }
    assert_eq!(
        pg.psql("postgres", "SELECT count(*) FROM parked_receipts")
            .unwrap(),
        "0",
        "no receipt is left parked"
    );
    let counts = store.counts();
    assert_eq!(counts.in_state(State::Delivered), MESSAGES as u64);
}
