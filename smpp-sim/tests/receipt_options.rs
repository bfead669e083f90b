//! Receipt behaviours of real SMSCs: decimal ids, no receipted_message_id, the receipt before
//! the submit_sm_resp, and the deliver_sm answer timer.

mod common;

use std::time::{Duration, Instant};

use common::{Bind, Client, WAIT, receipt_fields, receipt_tlvs, start_sim, submit_sm};
use rusmpp::{Command, CommandId, CommandStatus, Pdu};
use smpp_sim::ReceiptConfig;

/// Receipts at once, with `change` applied.
fn receipts(change: impl FnOnce(&mut ReceiptConfig)) -> ReceiptConfig {
    let mut config = ReceiptConfig {
        min_delay_ms: 0,
        max_delay_ms: 0,
        ..ReceiptConfig::default()
    };
    change(&mut config);
    config
}

#[tokio::test]
async fn id_in_decimal_gives_the_decimal_value_of_the_hex_id() {
    let sim = start_sim(0).await;
    sim.set_receipts("kcell", receipts(|r| r.id_in_decimal = true))
        .unwrap();
    let mut client = Client::bound(&sim, "kcell", Bind::Trx).await;
    let (status, id) = client.submit(submit_sm("77011234567", "decimal")).await;
    assert_eq!(status, CommandStatus::EsmeRok);
    let decimal = u128::from_str_radix(&id, 16).unwrap().to_string();
    let receipt = client.next_deliver_sm().await;
    assert_eq!(receipt_fields(&receipt)["id"], decimal);
    assert_eq!(receipt_tlvs(&receipt).0, Some(decimal));
    assert_eq!(smpp_sim::receipt::decimal_id("0A1B"), "2587");
    sim.shutdown().await;
}

#[tokio::test]
async fn receipts_can_come_without_receipted_message_id() {
    let sim = start_sim(0).await;
    sim.set_receipts("kcell", receipts(|r| r.receipted_message_id = false))
        .unwrap();
    let mut client = Client::bound(&sim, "kcell", Bind::Trx).await;
    let (_, id) = client.submit(submit_sm("77011234567", "no tlv")).await;
    let receipt = client.next_deliver_sm().await;
    assert_eq!(receipt_fields(&receipt)["id"], id);
    let (tlv_id, state) = receipt_tlvs(&receipt);
    assert_eq!(tlv_id, None);
    assert!(state.is_some(), "message_state stays");
    sim.shutdown().await;
}

#[tokio::test]
async fn before_response_sends_the_receipt_before_the_submit_sm_resp() {
    let sim = start_sim(0).await;
    // A delay that would otherwise put the receipt well after the answer.
    sim.set_receipts(
        "kcell",
        receipts(|r| {
            r.before_response = true;
            r.min_delay_ms = 60_000;
            r.max_delay_ms = 60_000;
        }),
    )
    .unwrap();
    let mut client = Client::bound(&sim, "kcell", Bind::Trx).await;
    let seq = client.next_sequence();
    client
        .send(Command::new(
            CommandStatus::EsmeRok,
            seq,
            submit_sm("77011234567", "receipt first"),
        ))
        .await;
    let first = client.recv_within(WAIT).await.expect("a PDU");
    let Some(Pdu::DeliverSm(receipt)) = first.pdu() else {
        panic!("the receipt should come first, got {first:?}");
    };
    let receipt_id = receipt_fields(receipt)["id"].clone();
    client
        .ack(first.sequence_number(), CommandStatus::EsmeRok)
        .await;
    let answer = client.response_to(seq).await;
    assert_eq!(answer.id(), CommandId::SubmitSmResp);
    let Some(Pdu::SubmitSmResp(resp)) = answer.pdu() else {
        panic!("no submit_sm_resp body");
    };
    assert_eq!(resp.message_id().as_str(), receipt_id);
    sim.shutdown().await;
}

#[tokio::test]
async fn before_response_holds_the_answer_until_the_receipt_is_written() {
    let sim = start_sim(0).await;
    sim.set_receipts(
        "kcell",
        receipts(|r| {
            r.before_response = true;
            r.window = 1;
        }),
    )
    .unwrap();
    let mut client = Client::bound(&sim, "kcell", Bind::Trx).await;
    // An unanswered MO fills the window, so the receipt cannot be written yet.
    sim.inject_mo("kcell", "77019998877", "1414", "hi").unwrap();
    let (mo_seq, _) = client.next_deliver_sm_raw().await;
    let seq = client.next_sequence();
    client
        .send(Command::new(
            CommandStatus::EsmeRok,
            seq,
            submit_sm("77011234567", "held answer"),
        ))
        .await;
    sim.wait_for_messages(1, WAIT).await.unwrap();
    // Freeing the window lets the receipt out; only then (or after 2 s) may the answer follow.
    client.ack(mo_seq, CommandStatus::EsmeRok).await;
    let first = client.recv_within(WAIT).await.expect("a PDU");
    assert_eq!(first.id(), CommandId::DeliverSm, "the receipt first");
    client
        .ack(first.sequence_number(), CommandStatus::EsmeRok)
        .await;
    assert_eq!(
        client.response_to(seq).await.status(),
        CommandStatus::EsmeRok
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn before_response_without_a_receiver_answers_after_two_seconds() {
    let sim = start_sim(0).await;
    sim.set_receipts("kcell", receipts(|r| r.before_response = true))
        .unwrap();
    let mut tx = Client::bound(&sim, "kcell", Bind::Tx).await;
    let started = Instant::now();
    let (status, _) = tx.submit(submit_sm("77011234567", "nobody receives")).await;
    assert_eq!(status, CommandStatus::EsmeRok);
    // A lower bound only: with no receiver the answer waits the whole 2 s.
    assert!(started.elapsed() >= Duration::from_secs(2));
    sim.shutdown().await;
}

#[tokio::test]
async fn an_unanswered_deliver_sm_is_sent_again_and_a_late_answer_ignored() {
    let sim = start_sim(0).await;
    sim.set_receipts(
        "kcell",
        receipts(|r| {
            r.response_timeout_ms = 1000;
            // Longer than the test: the stale answer is late because it was re-sent.
            r.late_answer_ms = 60_000;
        }),
    )
    .unwrap();
    let mut client = Client::bound(&sim, "kcell", Bind::Trx).await;
    client.auto_ack = false;
    let submitted = Instant::now();
    let (_, id) = client.submit(submit_sm("77011234567", "answer me")).await;
    let (first_seq, first) = client.next_deliver_sm_raw().await;
    assert_eq!(receipt_fields(&first)["id"], id);
    let (second_seq, second) = client.next_deliver_sm_raw().await;
    assert_eq!(receipt_fields(&second)["id"], id);
    assert_ne!(second_seq, first_seq, "re-sent with a new sequence number");
    assert!(submitted.elapsed() >= Duration::from_millis(1000));
    // The answer to the first one comes after it was given up: late, otherwise ignored.
    client.ack(first_seq, CommandStatus::EsmeRok).await;
    client.ack(second_seq, CommandStatus::EsmeRok).await;
    // Answers are handled in order, so the late one has been measured once this holds.
    let stats = sim
        .wait_for_stats("kcell", WAIT, |s| s.receipts_acked == 1)
        .await
        .unwrap();
    assert_eq!(stats.deliver_unanswered, 1);
    assert_eq!(stats.deliver_answered_late, 1);
    assert_eq!((stats.receipts_sent, stats.receipts_pending), (2, 0));
    assert!(stats.deliver_answer_max_ms >= 1000);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_slow_answer_counts_as_late() {
    let sim = start_sim(0).await;
    sim.set_receipts("kcell", receipts(|r| r.late_answer_ms = 200))
        .unwrap();
    let mut client = Client::bound(&sim, "kcell", Bind::Trx).await;
    client.auto_ack = false;
    client.submit(submit_sm("77011234567", "slowly")).await;
    let (seq, _) = client.next_deliver_sm_raw().await;
    // The behaviour under test is an answer later than 200 ms.
    tokio::time::sleep(Duration::from_millis(300)).await;
    client.ack(seq, CommandStatus::EsmeRok).await;
    let stats = sim
        .wait_for_stats("kcell", WAIT, |s| s.receipts_acked == 1)
        .await
        .unwrap();
    assert_eq!(stats.deliver_answered_late, 1);
    assert_eq!(stats.deliver_unanswered, 0);
    assert!(stats.deliver_answer_max_ms >= 300);
    sim.shutdown().await;
}
