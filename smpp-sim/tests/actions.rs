//! Actions on bound connections: the SMSC unbinds, writes injected PDUs and records what the
//! ESME sends back, and reports when binds happened.

mod common;

use std::time::{Duration, Instant};

use common::raw::RawClient;
use common::{Bind, Client, WAIT, start_sim};
use rusmpp::{CommandStatus, Pdu};
use smpp_sim::inject::{UNKNOWN_COMMAND_ID, UNSOLICITED_SEQUENCE_BASE};
use smpp_sim::{InjectPdu, Injected};

const GENERIC_NACK: u32 = 0x8000_0000;
const DELIVER_SM: u32 = 0x0000_0005;
const UNBIND: u32 = 0x0000_0006;

/// A round trip through the session: every PDU sent before is handled once this returns.
async fn sync(client: &mut RawClient) {
    let seq = client.send_request(Pdu::EnquireLink).await;
    client.response_to(seq).await;
}

#[tokio::test]
async fn unbind_sends_unbind_and_closes_after_the_answer() {
    let sim = start_sim(0).await;
    let mut polite = RawClient::bound(&sim, "kcell", Bind::Trx).await;
    let mut silent = RawClient::bound(&sim, "kcell", Bind::Tx).await;
    let asked = Instant::now();
    assert_eq!(sim.unbind("kcell").unwrap(), 2);
    let unbind = polite.next_of(UNBIND).await;
    assert_eq!((unbind.command_length, unbind.status), (16, 0));
    polite.answer(0x8000_0006, 0, unbind.sequence).await;
    assert!(polite.closed_by_server().await);
    // The one that never answers is closed after 5 s (a lower bound: not before).
    silent.next_of(UNBIND).await;
    assert!(silent.closed_by_server().await);
    assert!(asked.elapsed() >= Duration::from_secs(5));
    let stats = sim
        .wait_for_stats("kcell", WAIT, |s| s.binds_current == 0)
        .await
        .unwrap();
    assert_eq!((stats.unbinds_sent, stats.unbind_resps_received), (2, 1));
    assert_eq!(stats.connections_dropped, 0);
    assert!(sim.unbind("nosuch").is_err());
    sim.shutdown().await;
}

#[tokio::test]
async fn every_injected_pdu_is_written_and_its_answers_recorded() {
    let sim = start_sim(0).await;
    let mut esme = RawClient::bound(&sim, "kcell", Bind::Trx).await;
    let _transmitter = Client::bound(&sim, "kcell", Bind::Tx).await;

    // Only the connection that can receive gets them.
    assert_eq!(sim.inject("kcell", InjectPdu::UnknownCommand).unwrap(), 1);
    let unknown = esme.next_of(UNKNOWN_COMMAND_ID).await;
    assert_eq!((unknown.command_length, unknown.status), (16, 0));
    esme.answer(GENERIC_NACK, 0x03, unknown.sequence).await;

    sim.inject("kcell", InjectPdu::UnsolicitedSubmitSmResp)
        .unwrap();
    let resp = esme.next_of(0x8000_0004).await;
    assert!(resp.sequence > UNSOLICITED_SEQUENCE_BASE);
    let Some(Pdu::SubmitSmResp(body)) = resp.decode().and_then(|c| c.pdu().cloned()) else {
        panic!("not a submit_sm_resp");
    };
    assert!(!body.message_id().as_str().is_empty());
    // A sloppy ESME nacks the response (with status 0, another fault).
    esme.answer(GENERIC_NACK, 0, resp.sequence).await;

    sim.inject("kcell", InjectPdu::UnexpectedResponse).unwrap();
    let query = esme.next_of(0x8000_0003).await;
    assert!(query.sequence > UNSOLICITED_SEQUENCE_BASE);
    assert_ne!(query.sequence, resp.sequence);
    assert!(matches!(
        query.decode().and_then(|c| c.pdu().cloned()),
        Some(Pdu::QuerySmResp(_))
    ));

    sim.inject("kcell", InjectPdu::MalformedDeliverSm).unwrap();
    let malformed = esme.next_of(DELIVER_SM).await;
    assert_eq!(malformed.command_length as usize, malformed.octets.len());
    assert!(malformed.decode().is_none(), "its body does not parse");
    esme.answer(GENERIC_NACK, 0x01, malformed.sequence).await;

    sim.inject("kcell", InjectPdu::LargeDeliverSm(3000))
        .unwrap();
    let large = esme.next_of(DELIVER_SM).await;
    assert_eq!(large.command_length, 3000);
    assert!(large.decode().is_some(), "a legal deliver_sm");
    esme.ack_deliver(large.sequence, 0).await;
    sync(&mut esme).await;

    let log = sim.injected("kcell").unwrap();
    let expected = [
        (
            InjectPdu::UnknownCommand,
            unknown.sequence,
            vec![(GENERIC_NACK, 3)],
        ),
        (
            InjectPdu::UnsolicitedSubmitSmResp,
            resp.sequence,
            vec![(GENERIC_NACK, 0)],
        ),
        (InjectPdu::UnexpectedResponse, query.sequence, vec![]),
        (
            InjectPdu::MalformedDeliverSm,
            malformed.sequence,
            vec![(GENERIC_NACK, 1)],
        ),
        (
            InjectPdu::LargeDeliverSm(3000),
            large.sequence,
            vec![(0x8000_0005, 0)],
        ),
    ];
    let expected: Vec<Injected> = expected
        .into_iter()
        .map(|(pdu, sequence, answers)| Injected {
            pdu,
            sequence,
            answers,
        })
        .collect();
    assert_eq!(log, expected);
    let stats = sim.operator_stats("kcell").unwrap();
    assert_eq!(stats.answers_to_responses, 1);
    assert_eq!(
        (stats.generic_nacks_received, stats.generic_nacks_ok_status),
        (3, 1)
    );
    assert_eq!(
        (stats.large_sent, stats.mo_acked, stats.mo_pending),
        (1, 1, 0)
    );

    // The malformed one is never sent again.
    sync(&mut esme).await;
    assert_eq!(sim.operator_stats("kcell").unwrap().mo_sent, 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn any_pdu_on_an_unsolicited_responses_sequence_counts_as_answering_it() {
    let sim = start_sim(0).await;
    let mut esme = RawClient::bound(&sim, "kcell", Bind::Rx).await;
    sim.inject("kcell", InjectPdu::UnexpectedResponse).unwrap();
    let query = esme.next_of(0x8000_0003).await;
    // An ESME that mistakes the response for a deliver_sm answers deliver_sm_resp.
    esme.ack_deliver(query.sequence, 0).await;
    sync(&mut esme).await;
    let stats = sim.operator_stats("kcell").unwrap();
    assert_eq!(stats.answers_to_responses, 1);
    assert_eq!(
        sim.injected("kcell").unwrap()[0].answers,
        [(0x8000_0005, 0)]
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn inject_checks_its_arguments() {
    let sim = start_sim(0).await;
    assert_eq!(sim.inject("kcell", InjectPdu::UnknownCommand).unwrap(), 0);
    assert!(sim.inject("kcell", InjectPdu::LargeDeliverSm(10)).is_err());
    assert!(sim.inject("nosuch", InjectPdu::UnknownCommand).is_err());
    assert!(sim.injected("kcell").unwrap().is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn bind_times_record_each_successful_bind() {
    let sim = start_sim(0).await;
    let before = Instant::now();
    let _tx = Client::bound(&sim, "kcell", Bind::Tx).await;
    let mut refused = Client::connect(sim.addr("kcell").unwrap()).await;
    assert_eq!(
        refused.bind(Bind::Rx, "kcell", "wrong").await,
        CommandStatus::EsmeRinvpaswd
    );
    let _rx = Client::bound(&sim, "kcell", Bind::Rx).await;
    let after = Instant::now();
    let times = sim.bind_times("kcell").unwrap();
    assert_eq!(times.len(), 2, "refused binds are not recorded");
    assert!(times[0] >= before && times[0] <= times[1] && times[1] <= after);
    assert!(sim.bind_times("nosuch").is_err());
    sim.shutdown().await;
}
