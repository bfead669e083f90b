//! Delivery receipts: format, ids, test numbers, validity, waiting for a receiver, re-sending.

mod common;

use std::str::FromStr;

use common::{Bind, Client, WAIT, receipt_fields, receipt_tlvs, start_sim, submit_sm};
use rusmpp::CommandStatus;
use rusmpp::types::EmptyOrFullCOctetString;
use rusmpp::values::{MessageState, RegisteredDelivery};
use smpp_sim::{OutcomeMix, ReceiptConfig};

#[tokio::test]
async fn receipt_id_matches_the_submit_sm_resp_id() {
    let sim = start_sim(0).await;
    let mut client = Client::bound(&sim, "kcell", Bind::Trx).await;
    let (status, id) = client
        .submit(submit_sm("77011234567", "Hello from egov"))
        .await;
    assert_eq!(status, CommandStatus::EsmeRok);
    let receipt = client.next_deliver_sm().await;
    assert_eq!(u8::from(receipt.esm_class), 0x04);
    assert_eq!(receipt.source_addr.as_str(), "77011234567");
    assert_eq!(receipt.destination_addr.as_str(), "egov");
    let fields = receipt_fields(&receipt);
    assert_eq!(fields["id"], id);
    assert_eq!(fields["stat"], "DELIVRD");
    assert_eq!(fields["sub"], "001");
    assert_eq!(fields["dlvrd"], "001");
    assert_eq!(fields["err"], "000");
    assert_eq!(fields["text"], "Hello from egov");
    for date in ["submit date", "done date"] {
        assert_eq!(fields[date].len(), 10, "{date} is YYMMDDhhmm");
        assert!(fields[date].bytes().all(|b| b.is_ascii_digit()));
    }
    let (tlv_id, state) = receipt_tlvs(&receipt);
    assert_eq!(tlv_id.as_deref(), Some(id.as_str()));
    assert_eq!(state, Some(u8::from(MessageState::Delivered)));
    sim.wait_for_stats("kcell", WAIT, |s| {
        s.receipts_acked == 1 && s.receipts_pending == 0
    })
    .await
    .unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn test_numbers_have_fixed_outcomes() {
    let sim = start_sim(0).await;
    let mut client = Client::bound(&sim, "kcell", Bind::Trx).await;
    // …0001 first: with zero delay receipts leave in submit order, so if it had a receipt it
    // would arrive before the others.
    let (_, silent) = client.submit(submit_sm("77010000001", "none")).await;
    let mut expected = Vec::new();
    for (number, stat, state) in [
        ("77010000000", "UNDELIV", MessageState::Undeliverable),
        ("77010000002", "REJECTD", MessageState::Rejected),
        ("77010000003", "EXPIRED", MessageState::Expired),
        ("77011234567", "DELIVRD", MessageState::Delivered),
    ] {
        let (status, id) = client.submit(submit_sm(number, "t")).await;
        assert_eq!(status, CommandStatus::EsmeRok);
        expected.push((id, stat, u8::from(state)));
    }
    for (id, stat, state) in expected {
        let receipt = client.next_deliver_sm().await;
        let fields = receipt_fields(&receipt);
        assert_ne!(fields["id"], silent);
        assert_eq!(fields["id"], id);
        assert_eq!(fields["stat"], stat);
        assert_eq!(receipt_tlvs(&receipt).1, Some(state));
        let dlvrd = if stat == "DELIVRD" { "001" } else { "000" };
        assert_eq!(fields["dlvrd"], dlvrd);
    }
    assert_eq!(
        sim.query("kcell", &silent).unwrap().unwrap().state,
        MessageState::Enroute
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_receipt_after_the_validity_period_says_expired() {
    // Receipts would come after 3 s; the message is valid for 1 s only.
    let sim = start_sim(3000).await;
    let mut client = Client::bound(&sim, "kcell", Bind::Trx).await;
    let mut sm = submit_sm("77011234567", "short-lived");
    sm.validity_period = EmptyOrFullCOctetString::from_str("000000000001000R").unwrap();
    let (_, id) = client.submit(sm).await;
    let receipt = client.next_deliver_sm().await;
    let fields = receipt_fields(&receipt);
    assert_eq!(fields["id"], id);
    assert_eq!(fields["stat"], "EXPIRED");
    sim.shutdown().await;
}

#[tokio::test]
async fn failure_only_receipts_skip_delivered_messages() {
    let sim = start_sim(0).await;
    let mut client = Client::bound(&sim, "kcell", Bind::Trx).await;
    let mut ok = submit_sm("77011234567", "fine");
    ok.registered_delivery = RegisteredDelivery::from(2);
    client.submit(ok).await;
    let mut failing = submit_sm("77010000000", "fails");
    failing.registered_delivery = RegisteredDelivery::from(2);
    let (_, failing_id) = client.submit(failing).await;
    let receipt = client.next_deliver_sm().await;
    assert_eq!(receipt_fields(&receipt)["id"], failing_id);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_receipt_waits_for_the_next_receiver_bind() {
    let sim = start_sim(0).await;
    let mut tx = Client::bound(&sim, "kcell", Bind::Tx).await;
    let (_, id) = tx.submit(submit_sm("77011234567", "later")).await;
    sim.wait_for_stats("kcell", WAIT, |s| s.receipts_pending == 1)
        .await
        .unwrap();
    assert_eq!(sim.operator_stats("kcell").unwrap().receipts_sent, 0);
    let mut rx = Client::bound(&sim, "kcell", Bind::Rx).await;
    let receipt = rx.next_deliver_sm().await;
    assert_eq!(receipt_fields(&receipt)["id"], id);
    sim.wait_for_stats("kcell", WAIT, |s| s.receipts_acked == 1)
        .await
        .unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn unacknowledged_and_refused_receipts_are_sent_again() {
    let sim = start_sim(0).await;
    let receipts = ReceiptConfig {
        min_delay_ms: 0,
        max_delay_ms: 0,
        retry_delay_ms: 10,
        ..ReceiptConfig::default()
    };
    sim.set_receipts("kcell", receipts).unwrap();
    let mut tx = Client::bound(&sim, "kcell", Bind::Tx).await;
    let (_, id) = tx.submit(submit_sm("77011234567", "again")).await;

    // A receiver that never answers and then disconnects: the receipt comes back.
    let mut silent = Client::bound(&sim, "kcell", Bind::Rx).await;
    silent.auto_ack = false;
    let (_, first) = silent.next_deliver_sm_raw().await;
    assert_eq!(receipt_fields(&first)["id"], id);
    drop(silent);

    // A receiver that refuses it once: it is re-sent after retry_delay_ms.
    let mut picky = Client::bound(&sim, "kcell", Bind::Rx).await;
    let (seq, second) = picky.next_deliver_sm_raw().await;
    assert_eq!(receipt_fields(&second)["id"], id);
    picky.ack(seq, CommandStatus::EsmeRxTAppn).await;
    let (seq, third) = picky.next_deliver_sm_raw().await;
    assert_eq!(receipt_fields(&third)["id"], id);
    picky.ack(seq, CommandStatus::EsmeRok).await;
    let stats = sim
        .wait_for_stats("kcell", WAIT, |s| s.receipts_acked == 1)
        .await
        .unwrap();
    assert_eq!(stats.receipts_sent, 3);
    assert_eq!(stats.receipts_pending, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn outcome_mix_and_delay_apply_to_ordinary_numbers() {
    let sim = start_sim(0).await;
    sim.set_receipts(
        "kcell",
        ReceiptConfig {
            min_delay_ms: 1,
            max_delay_ms: 20,
            outcomes: OutcomeMix {
                delivered: 0.0,
                undeliverable: 1.0,
                ..OutcomeMix::default()
            },
            ..ReceiptConfig::default()
        },
    )
    .unwrap();
    let mut client = Client::bound(&sim, "kcell", Bind::Trx).await;
    client.submit(submit_sm("77017654321", "mix")).await;
    let receipt = client.next_deliver_sm().await;
    assert_eq!(receipt_fields(&receipt)["stat"], "UNDELIV");
    sim.shutdown().await;
}
