//! `resubmitted_after_ok`: parts the ESME sent again after it had been told ESME_ROK, as
//! opposed to resending a part whose answer it never got.

mod common;

use std::time::Duration;

use common::raw::RawClient;
use common::{Bind, Client, WAIT, multipart_ucs2, start_sim, submit_sm};
use rusmpp::{Command, CommandStatus, Pdu};
use smpp_sim::Fault;

#[tokio::test]
async fn a_part_sent_again_after_its_ok_is_counted() {
    let sim = start_sim(0).await;
    let mut client = Client::bound(&sim, "kcell", Bind::Tx).await;
    for _ in 0..2 {
        let (status, _) = client.submit(submit_sm("77011234567", "twice")).await;
        assert_eq!(status, CommandStatus::EsmeRok);
    }
    client.submit(submit_sm("77011234567", "once")).await;
    client.submit(submit_sm("77019999999", "twice")).await; // another destination
    // Two parts of one message are two different parts.
    for part in multipart_ucs2("77011234567", &"Сәлем ".repeat(30), 9) {
        client.submit(part).await;
    }
    let stats = sim.operator_stats("kcell").unwrap();
    assert_eq!(stats.resubmitted_after_ok, 1);
    assert_eq!(stats.duplicates, 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_part_whose_answer_was_lost_is_not_counted() {
    let sim = start_sim(0).await;
    let mut client = Client::bound(&sim, "kcell", Bind::Tx).await;
    sim.apply_fault("kcell", &Fault::DropProbability(1.0))
        .unwrap();
    let seq = client.next_sequence();
    client
        .send(Command::new(
            CommandStatus::EsmeRok,
            seq,
            submit_sm("77011234567", "lost answer"),
        ))
        .await;
    assert!(client.closed_by_server().await, "closed without an answer");
    sim.clear_faults("kcell").unwrap();
    let mut again = Client::bound(&sim, "kcell", Bind::Tx).await;
    let (status, _) = again.submit(submit_sm("77011234567", "lost answer")).await;
    assert_eq!(status, CommandStatus::EsmeRok);
    let stats = sim.operator_stats("kcell").unwrap();
    assert_eq!(stats.resubmitted_after_ok, 0);
    assert_eq!(stats.duplicates, 1, "still a duplicate");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_part_whose_answer_a_pause_held_and_dropped_is_not_counted() {
    let sim = start_sim(0).await;
    let mut client = RawClient::bound(&sim, "kcell", Bind::Tx).await;
    sim.apply_fault("kcell", &Fault::Pause(Duration::from_secs(600)))
        .unwrap();
    client
        .send_request(submit_sm("77011234567", "held answer"))
        .await;
    sim.wait_for_messages(1, WAIT).await.unwrap();
    client.send_request(Pdu::Unbind).await;
    assert!(
        client.recv_within(WAIT).await.is_none(),
        "closed, nothing written"
    );
    sim.clear_faults("kcell").unwrap();
    let mut again = Client::bound(&sim, "kcell", Bind::Tx).await;
    let (status, _) = again.submit(submit_sm("77011234567", "held answer")).await;
    assert_eq!(status, CommandStatus::EsmeRok);
    assert_eq!(sim.operator_stats("kcell").unwrap().resubmitted_after_ok, 0);
    sim.shutdown().await;
}
