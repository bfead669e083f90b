//! Faults switched on at runtime: throttling, full queue, delay, drops, hang, down.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::{Bind, Client, WAIT, start_sim, submit_sm};
use rusmpp::{Command, CommandId, CommandStatus, Pdu};
use smpp_sim::{Fault, FaultSettings};

#[tokio::test]
async fn throttle_share_answers_throttled() {
    let sim = start_sim(0).await;
    let mut client = Client::bound(&sim, "kcell", Bind::Tx).await;
    sim.apply_fault("kcell", &Fault::Throttle(1.0)).unwrap();
    for _ in 0..3 {
        let (status, _) = client.submit(submit_sm("77011234567", "x")).await;
        assert_eq!(status, CommandStatus::EsmeRthrottled);
    }
    sim.apply_fault("kcell", &Fault::Throttle(0.0)).unwrap();
    let (status, _) = client.submit(submit_sm("77011234567", "x")).await;
    assert_eq!(status, CommandStatus::EsmeRok);
    let stats = sim.operator_stats("kcell").unwrap();
    assert_eq!((stats.throttled, stats.parts, stats.submits), (3, 1, 4));
    sim.shutdown().await;
}

#[tokio::test]
async fn throttle_above_tps_limits_each_second() {
    let sim = start_sim(0).await;
    let mut client = Client::bound(&sim, "kcell", Bind::Tx).await;
    sim.apply_fault("kcell", &Fault::ThrottleAboveTps(Some(5)))
        .unwrap();
    // 20 pipelined submits arrive well within a second of the first accepted one... or not,
    // on a slow machine: so count outcomes per arrival second instead of assuming.
    let mut sent = Vec::new();
    for i in 0..20 {
        let seq = client.next_sequence();
        let sm = submit_sm(&format!("770155{:05}", 200 + i), "burst");
        client
            .send(Command::new(CommandStatus::EsmeRok, seq, sm))
            .await;
        sent.push(seq);
    }
    let mut statuses = HashMap::new();
    for _ in 0..sent.len() {
        let resp = client.response_to_any().await;
        statuses.insert(resp.sequence_number(), resp.status());
    }
    let accepted = statuses
        .values()
        .filter(|s| **s == CommandStatus::EsmeRok)
        .count();
    let throttled = statuses
        .values()
        .filter(|s| **s == CommandStatus::EsmeRthrottled)
        .count();
    assert_eq!(accepted + throttled, 20);
    assert!(accepted >= 5, "the first five are always accepted");
    let stats = sim.operator_stats("kcell").unwrap();
    assert_eq!(stats.throttled as usize, throttled);
    // Never more than 5 accepted in any one second: the 6th in the same second is refused.
    if stats.max_parts_per_second == 20 {
        assert_eq!(accepted, 5);
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn queue_full_share_answers_msgqful() {
    let sim = start_sim(0).await;
    let mut client = Client::bound(&sim, "kcell", Bind::Tx).await;
    sim.update_faults("kcell", |f| f.queue_full_share = 1.0)
        .unwrap();
    let (status, _) = client.submit(submit_sm("77011234567", "x")).await;
    assert_eq!(status, CommandStatus::EsmeRmsgqful);
    assert!(sim.messages().is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn response_delay_holds_every_answer() {
    let sim = start_sim(0).await;
    let mut client = Client::bound(&sim, "kcell", Bind::Tx).await;
    sim.apply_fault("kcell", &Fault::ResponseDelay(Duration::from_millis(300)))
        .unwrap();
    let started = Instant::now();
    let (status, _) = client.submit(submit_sm("77011234567", "slow")).await;
    assert_eq!(status, CommandStatus::EsmeRok);
    // A lower bound only: the answer cannot come before the delay.
    assert!(started.elapsed() >= Duration::from_millis(300));
    sim.shutdown().await;
}

#[tokio::test]
async fn drop_after_n_submits_closes_the_connection() {
    let sim = start_sim(0).await;
    sim.apply_fault("kcell", &Fault::DropAfter(Some(3)))
        .unwrap();
    let mut client = Client::bound(&sim, "kcell", Bind::Tx).await;
    for i in 0..3 {
        let (status, _) = client
            .submit(submit_sm("77011234567", &format!("n{i}")))
            .await;
        assert_eq!(status, CommandStatus::EsmeRok);
    }
    assert!(client.closed_by_server().await);
    let stats = sim
        .wait_for_stats("kcell", WAIT, |s| s.binds_current == 0)
        .await
        .unwrap();
    assert_eq!(stats.connections_dropped, 1);
    // A fresh connection binds and gets its own three submits.
    let mut again = Client::bound(&sim, "kcell", Bind::Tx).await;
    assert_eq!(
        again.submit(submit_sm("77011234567", "again")).await.0,
        CommandStatus::EsmeRok
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn drop_probability_loses_the_answer_but_keeps_the_message() {
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
    let messages = sim.wait_for_messages(1, WAIT).await.unwrap();
    assert_eq!(messages[0].text, "lost answer");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_hang_answers_nothing_until_it_ends() {
    let sim = start_sim(0).await;
    let mut client = Client::bound(&sim, "kcell", Bind::Trx).await;
    sim.hang("kcell", Duration::from_secs(600)).unwrap();
    let seq = client.next_sequence();
    client
        .send(Command::new(CommandStatus::EsmeRok, seq, Pdu::EnquireLink))
        .await;
    // While hanging the simulator cannot answer at all, so this is not a timing bet.
    assert!(
        client
            .recv_within(Duration::from_millis(300))
            .await
            .is_none()
    );
    sim.set_faults("kcell", FaultSettings::default()).unwrap();
    let resp = client.response_to(seq).await;
    assert_eq!(resp.id(), CommandId::EnquireLinkResp);
    sim.shutdown().await;
}

#[tokio::test]
async fn down_closes_connections_and_refuses_new_ones_until_up() {
    let sim = start_sim(0).await;
    let mut client = Client::bound(&sim, "kcell", Bind::Trx).await;
    sim.set_down("kcell", true).unwrap();
    assert!(client.closed_by_server().await);
    let mut refused = Client::connect(sim.addr("kcell").unwrap()).await;
    assert!(refused.closed_by_server().await);
    sim.set_down("kcell", false).unwrap();
    let mut back = Client::bound(&sim, "kcell", Bind::Trx).await;
    assert_eq!(
        back.submit(submit_sm("77011234567", "back up")).await.0,
        CommandStatus::EsmeRok
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn invalid_fault_values_are_refused() {
    let sim = start_sim(0).await;
    assert!(sim.apply_fault("kcell", &Fault::Throttle(1.5)).is_err());
    assert!(sim.apply_fault("nosuch", &Fault::Down).is_err());
    assert_eq!(sim.faults("kcell").unwrap(), FaultSettings::default());
    sim.shutdown().await;
}
