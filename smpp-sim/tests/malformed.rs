//! Malformed PDUs: answered with generic_nack, or the one connection closed, never the server.

mod common;

use common::{Bind, Client, start_sim, submit_sm};
use rusmpp::{CommandId, CommandStatus};

/// A PDU header followed by `body`, with a command_length that may lie.
fn raw_pdu(command_length: u32, command_id: u32, sequence: u32, body: &[u8]) -> Vec<u8> {
    let mut raw = Vec::new();
    raw.extend_from_slice(&command_length.to_be_bytes());
    raw.extend_from_slice(&command_id.to_be_bytes());
    raw.extend_from_slice(&0u32.to_be_bytes());
    raw.extend_from_slice(&sequence.to_be_bytes());
    raw.extend_from_slice(body);
    raw
}

#[tokio::test]
async fn impossible_command_length_closes_that_connection_only() {
    let sim = start_sim(0).await;
    let addr = sim.addr("kcell").unwrap();
    let mut bystander = Client::bound(&sim, "kcell", Bind::Trx).await;
    let mut client = Client::connect(addr).await;
    // command_length 8 is shorter than the header itself: framing is lost.
    client.send_raw(&raw_pdu(8, 0x0000_0015, 77, &[])).await;
    let nack = client
        .recv_within(common::WAIT)
        .await
        .expect("generic_nack");
    assert_eq!(nack.id(), CommandId::GenericNack);
    assert_eq!(nack.status(), CommandStatus::EsmeRinvcmdlen);
    assert_eq!(nack.sequence_number(), 77);
    assert!(client.closed_by_server().await);
    // A fresh connection binds and works; the other bind was not disturbed.
    let mut fresh = Client::bound(&sim, "kcell", Bind::Trx).await;
    assert_eq!(
        fresh.submit(submit_sm("77011234567", "after")).await.0,
        CommandStatus::EsmeRok
    );
    assert_eq!(
        bystander
            .submit(submit_sm("77011234567", "still here"))
            .await
            .0,
        CommandStatus::EsmeRok
    );
    assert_eq!(sim.operator_stats("kcell").unwrap().malformed, 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn huge_command_length_is_refused() {
    let sim = start_sim(0).await;
    let mut client = Client::connect(sim.addr("kcell").unwrap()).await;
    client
        .send_raw(&raw_pdu(0x7FFF_FFFF, 0x0000_0004, 5, &[0; 16]))
        .await;
    let nack = client
        .recv_within(common::WAIT)
        .await
        .expect("generic_nack");
    assert_eq!(nack.id(), CommandId::GenericNack);
    assert!(client.closed_by_server().await);
    let _fresh = Client::bound(&sim, "kcell", Bind::Tx).await;
    sim.shutdown().await;
}

#[tokio::test]
async fn truncated_bind_gets_generic_nack_and_the_connection_goes_on() {
    let sim = start_sim(0).await;
    let mut client = Client::connect(sim.addr("kcell").unwrap()).await;
    // bind_transceiver whose system_id has no NUL and nothing else follows.
    let body = b"kcell";
    client
        .send_raw(&raw_pdu(16 + body.len() as u32, 0x0000_0009, 9, body))
        .await;
    let nack = client.response_to(9).await;
    assert_eq!(nack.id(), CommandId::GenericNack);
    assert_eq!(nack.status(), CommandStatus::EsmeRinvcmdlen);
    // The same connection can still bind properly.
    assert_eq!(
        client.bind(Bind::Trx, "kcell", "secret").await,
        CommandStatus::EsmeRok
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn submit_with_inconsistent_sm_length_gets_generic_nack() {
    let sim = start_sim(0).await;
    let mut client = Client::bound(&sim, "kcell", Bind::Tx).await;
    // service_type, source (ton, npi, addr), dest (ton, npi, addr), esm_class, protocol_id,
    // priority, schedule, validity, registered_delivery, replace, data_coding, default_msg_id,
    // then sm_length 50 with only 5 octets of message.
    let mut body = vec![0u8, 5, 0];
    body.extend_from_slice(b"egov\0");
    body.extend_from_slice(&[1, 1]);
    body.extend_from_slice(b"77011234567\0");
    body.extend_from_slice(&[0, 0, 0, 0, 0, 1, 0, 0, 0, 50]);
    body.extend_from_slice(b"hello");
    client
        .send_raw(&raw_pdu(16 + body.len() as u32, 0x0000_0004, 31, &body))
        .await;
    let nack = client.response_to(31).await;
    assert_eq!(nack.id(), CommandId::GenericNack);
    assert_ne!(nack.status(), CommandStatus::EsmeRok);
    assert!(sim.messages().is_empty());
    // The bind is intact.
    assert_eq!(
        client.submit(submit_sm("77011234567", "fine")).await.0,
        CommandStatus::EsmeRok
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_body_on_a_bodiless_command_is_refused_without_closing() {
    let sim = start_sim(0).await;
    let mut client = Client::bound(&sim, "kcell", Bind::Trx).await;
    // enquire_link with 4 stray octets.
    client
        .send_raw(&raw_pdu(20, 0x0000_0015, 12, &[1, 2, 3, 4]))
        .await;
    let nack = client.response_to(12).await;
    assert_eq!(nack.id(), CommandId::GenericNack);
    assert_eq!(
        client.submit(submit_sm("77011234567", "ok")).await.0,
        CommandStatus::EsmeRok
    );
    sim.shutdown().await;
}
