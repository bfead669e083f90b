//! Faults of the SMSCs and peers that found protocol faults khabar's tests never saw:
//! generic_nack for submit_sm, a write pause, refused binds, a large deliver_sm right after the
//! bind, and a close shortly after every bind.

mod common;

use std::time::{Duration, Instant};

use common::raw::RawClient;
use common::{Bind, Client, WAIT, start_sim, submit_sm};
use rusmpp::tlvs::TlvValue;
use rusmpp::{Command, CommandId, CommandStatus, Pdu};
use smpp_sim::{Fault, SimConfig, Simulator};

#[tokio::test]
async fn nack_share_answers_generic_nack_and_accepts_nothing() {
    let sim = start_sim(0).await;
    let mut client = Client::bound(&sim, "kcell", Bind::Trx).await;
    sim.apply_fault("kcell", &Fault::Nack(1.0)).unwrap();
    let resp = client.request(submit_sm("77011234567", "nacked")).await;
    assert_eq!(resp.id(), CommandId::GenericNack);
    assert_eq!(resp.status(), CommandStatus::EsmeRsyserr);
    sim.clear_faults("kcell").unwrap();
    let (status, _) = client.submit(submit_sm("77011234567", "accepted")).await;
    assert_eq!(status, CommandStatus::EsmeRok);
    client.next_deliver_sm().await; // the receipt of the accepted one only
    let texts: Vec<String> = sim.messages().into_iter().map(|m| m.text).collect();
    assert_eq!(texts, ["accepted"]);
    let stats = sim
        .wait_for_stats("kcell", WAIT, |s| s.receipts_acked == 1)
        .await
        .unwrap();
    assert_eq!((stats.nacks_sent, stats.submits, stats.parts), (1, 2, 1));
    assert_eq!(stats.receipts_pending, 0, "no receipt for the nacked one");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_pause_holds_every_answer_and_writes_them_in_order_afterwards() {
    let sim = start_sim(0).await;
    let mut client = Client::bound(&sim, "kcell", Bind::Trx).await;
    sim.apply_fault("kcell", &Fault::Pause(Duration::from_secs(600)))
        .unwrap();
    let mut sent = Vec::new();
    for i in 0..3 {
        let seq = client.next_sequence();
        let sm = submit_sm("77011234567", &format!("paused {i}"));
        client
            .send(Command::new(CommandStatus::EsmeRok, seq, sm))
            .await;
        sent.push(seq);
    }
    let seq = client.next_sequence();
    client
        .send(Command::new(CommandStatus::EsmeRok, seq, Pdu::EnquireLink))
        .await;
    sent.push(seq);
    // Reading and accepting go on...
    let messages = sim.wait_for_messages(3, WAIT).await.unwrap();
    assert_eq!(messages[2].text, "paused 2");
    // ...but nothing is written while the pause lasts (so this is not a timing bet).
    assert!(
        client
            .recv_within(Duration::from_millis(300))
            .await
            .is_none()
    );
    assert_eq!(sim.operator_stats("kcell").unwrap().receipts_sent, 0);
    sim.clear_faults("kcell").unwrap();
    let mut answers = Vec::new();
    for _ in 0..4 {
        let command = client.recv_within(WAIT).await.expect("held answers come");
        answers.push((command.sequence_number(), command.id()));
    }
    let expected: Vec<_> = sent
        .iter()
        .zip([
            CommandId::SubmitSmResp,
            CommandId::SubmitSmResp,
            CommandId::SubmitSmResp,
            CommandId::EnquireLinkResp,
        ])
        .map(|(s, id)| (*s, id))
        .collect();
    assert_eq!(
        answers, expected,
        "held answers in order, before any receipt"
    );
    for _ in 0..3 {
        client.next_deliver_sm().await; // the receipts follow
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn a_pause_holds_answers_delayed_by_the_delay_fault_too() {
    let sim = start_sim(0).await;
    let mut client = Client::bound(&sim, "kcell", Bind::Tx).await;
    sim.update_faults("kcell", |f| {
        f.response_delay_ms = 50;
        f.pause_until = Some(Instant::now() + Duration::from_secs(600));
    })
    .unwrap();
    let seq = client.next_sequence();
    client
        .send(Command::new(
            CommandStatus::EsmeRok,
            seq,
            submit_sm("77011234567", "late and held"),
        ))
        .await;
    sim.wait_for_messages(1, WAIT).await.unwrap();
    // The delayed answer is due after 50 ms, but the pause holds it.
    assert!(
        client
            .recv_within(Duration::from_millis(300))
            .await
            .is_none()
    );
    sim.update_faults("kcell", |f| f.pause_until = None)
        .unwrap();
    assert_eq!(
        client.response_to(seq).await.status(),
        CommandStatus::EsmeRok
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn what_a_pause_held_for_a_connection_that_closed_is_never_written() {
    let sim = start_sim(0).await;
    let mut client = RawClient::bound(&sim, "kcell", Bind::Tx).await;
    sim.apply_fault("kcell", &Fault::Pause(Duration::from_secs(600)))
        .unwrap();
    client.send_request(submit_sm("77011234567", "held")).await;
    sim.wait_for_messages(1, WAIT).await.unwrap();
    // The ESME unbinds: the SMSC answers (held) and closes, dropping what it held.
    client.send_request(Pdu::Unbind).await;
    assert!(
        client.recv_within(WAIT).await.is_none(),
        "closed without a word"
    );
    sim.wait_for_stats("kcell", WAIT, |s| s.binds_current == 0)
        .await
        .unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn refuse_binds_from_the_config_refuses_the_first_two() {
    let mut config = SimConfig::single("kcell");
    config.operators[0].faults.refuse_binds = 2;
    let sim = Simulator::start(config).await.unwrap();
    let mut client = Client::connect(sim.addr("kcell").unwrap()).await;
    for _ in 0..2 {
        assert_eq!(
            client.bind(Bind::Trx, "kcell", "secret").await,
            CommandStatus::EsmeRbindfail
        );
    }
    assert_eq!(
        client.bind(Bind::Trx, "kcell", "secret").await,
        CommandStatus::EsmeRok
    );
    let stats = sim.operator_stats("kcell").unwrap();
    assert_eq!((stats.bind_failures, stats.binds_total), (2, 1));
    assert_eq!(sim.faults("kcell").unwrap().refuse_binds, 0);
    // Switched on at runtime it counts down again.
    sim.apply_fault("kcell", &Fault::RefuseBinds(1)).unwrap();
    let mut other = Client::connect(sim.addr("kcell").unwrap()).await;
    assert_eq!(
        other.bind(Bind::Tx, "kcell", "secret").await,
        CommandStatus::EsmeRbindfail
    );
    assert_eq!(
        other.bind(Bind::Tx, "kcell", "secret").await,
        CommandStatus::EsmeRok
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn large_after_bind_sends_a_deliver_sm_of_exactly_that_size() {
    let sim = start_sim(0).await;
    sim.apply_fault("kcell", &Fault::LargeAfterBind(Some(5000)))
        .unwrap();
    let mut rx = RawClient::bound(&sim, "kcell", Bind::Rx).await;
    let pdu = rx.next_of(0x0000_0005).await;
    assert_eq!(pdu.command_length, 5000);
    assert_eq!(pdu.octets.len(), 5000);
    let command = pdu.decode().expect("a legal deliver_sm");
    let Some(Pdu::DeliverSm(sm)) = command.pdu() else {
        panic!("not a deliver_sm: {command:?}");
    };
    assert_eq!(sm.source_addr.as_str(), "77010000099");
    assert_eq!(sm.destination_addr.as_str(), "1414");
    assert_eq!((u8::from(sm.esm_class), u8::from(sm.data_coding)), (0, 0));
    assert!(sm.short_message().as_ref().is_empty());
    let payload = sm.tlvs().iter().find_map(|t| match t.value() {
        Some(TlvValue::MessagePayload(p)) => Some(p.value.as_ref().len()),
        _ => None,
    });
    assert_eq!(payload, Some(5000 - 52));
    rx.ack_deliver(pdu.sequence, 0).await;
    sim.wait_for_stats("kcell", WAIT, |s| {
        s.mo_acked == 1 && s.large_sent == 1 && s.mo_pending == 0
    })
    .await
    .unwrap();

    // A transmitter bind cannot receive: it gets none (the SMSC would send it right after
    // bind_resp, before answering anything else).
    let mut tx = RawClient::bound(&sim, "kcell", Bind::Tx).await;
    let seq = tx.send_request(Pdu::EnquireLink).await;
    let next = tx.recv().await;
    assert_eq!((next.command_id, next.sequence), (0x8000_0015, seq));
    assert_eq!(sim.operator_stats("kcell").unwrap().large_sent, 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn close_after_bind_closes_each_bound_connection() {
    let sim = start_sim(0).await;
    sim.apply_fault(
        "kcell",
        &Fault::CloseAfterBind(Some(Duration::from_millis(200))),
    )
    .unwrap();
    let started = Instant::now();
    let mut client = Client::bound(&sim, "kcell", Bind::Trx).await;
    assert!(client.closed_by_server().await);
    // A lower bound only: the close cannot come before the delay.
    assert!(started.elapsed() >= Duration::from_millis(200));
    let stats = sim
        .wait_for_stats("kcell", WAIT, |s| s.binds_current == 0)
        .await
        .unwrap();
    assert_eq!(stats.connections_dropped, 1);
    assert_eq!(stats.unbinds_sent, 0, "a plain close, no unbind");
    sim.shutdown().await;
}
