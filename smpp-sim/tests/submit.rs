//! submit_sm: text decoding, concatenation, the SMSC's checks, pipelining, query_sm.

mod common;

use std::collections::HashSet;
use std::str::FromStr;

use common::{Bind, Client, KAZAKH, WAIT, multipart_ucs2, start_sim, submit_sm};
use rusmpp::pdus::{QuerySm, SubmitSm};
use rusmpp::tlvs::MessageSubmissionRequestTlvValue;
use rusmpp::types::{COctetString, OctetString};
use rusmpp::values::{DataCoding, EsmClass, MessageState};
use rusmpp::{Command, CommandId, CommandStatus, Pdu};

#[tokio::test]
async fn gsm7_text_is_decoded() {
    let sim = start_sim(0).await;
    let mut client = Client::bound(&sim, "kcell", Bind::Trx).await;
    let text = "Your code is 4821. Do not share it! @egov {1}";
    let (status, id) = client.submit(submit_sm("77011234567", text)).await;
    assert_eq!(status, CommandStatus::EsmeRok);
    let messages = sim.wait_for_messages(1, WAIT).await.unwrap();
    let m = &messages[0];
    assert_eq!(m.text, text);
    assert_eq!(m.data_coding, 0x00);
    assert_eq!(
        (m.source.as_str(), m.destination.as_str()),
        ("egov", "77011234567")
    );
    assert_eq!(m.message_ids, [id]);
    assert_eq!(m.operator, "kcell");
    sim.shutdown().await;
}

#[tokio::test]
async fn ucs2_kazakh_text_is_decoded() {
    let sim = start_sim(0).await;
    let mut client = Client::bound(&sim, "kcell", Bind::Tx).await;
    let (status, _) = client.submit(submit_sm("77021234567", KAZAKH)).await;
    assert_eq!(status, CommandStatus::EsmeRok);
    let messages = sim.wait_for_messages(1, WAIT).await.unwrap();
    assert_eq!(messages[0].text, KAZAKH);
    assert_eq!(messages[0].data_coding, 0x08);
    sim.shutdown().await;
}

#[tokio::test]
async fn three_part_message_is_reassembled() {
    let sim = start_sim(0).await;
    let mut client = Client::bound(&sim, "kcell", Bind::Trx).await;
    let text = format!("{KAZAKH} {KAZAKH} {KAZAKH}");
    let parts = multipart_ucs2("77051234567", &text, 42);
    assert_eq!(parts.len(), 3);
    let mut ids = Vec::new();
    // Send the parts out of order: the SMSC must still join them by part number.
    for index in [2, 0, 1] {
        let (status, id) = client.submit(parts[index].clone()).await;
        assert_eq!(status, CommandStatus::EsmeRok);
        ids.push((index, id));
    }
    ids.sort();
    let messages = sim.wait_for_messages(1, WAIT).await.unwrap();
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert_eq!(m.text, text);
    assert_eq!(m.parts, 3);
    assert_eq!(m.concat_reference, Some(42));
    let expected: Vec<String> = ids.into_iter().map(|(_, id)| id).collect();
    assert_eq!(m.message_ids, expected);
    let stats = sim.operator_stats("kcell").unwrap();
    assert_eq!((stats.parts, stats.messages), (3, 1));
    sim.shutdown().await;
}

#[tokio::test]
async fn sar_tlv_concatenation_is_reassembled() {
    let sim = start_sim(0).await;
    let mut client = Client::bound(&sim, "kcell", Bind::Tx).await;
    let chunks = ["first half, ", "second half"];
    for (i, chunk) in chunks.iter().enumerate() {
        let mut sm = submit_sm("77471234567", chunk);
        sm.push_tlv(MessageSubmissionRequestTlvValue::SarMsgRefNum(0x1234));
        sm.push_tlv(MessageSubmissionRequestTlvValue::SarTotalSegments(2));
        sm.push_tlv(MessageSubmissionRequestTlvValue::SarSegmentSeqnum(
            i as u8 + 1,
        ));
        assert_eq!(client.submit(sm).await.0, CommandStatus::EsmeRok);
    }
    let messages = sim.wait_for_messages(1, WAIT).await.unwrap();
    assert_eq!(messages[0].text, chunks.concat());
    assert_eq!(messages[0].concat_reference, Some(0x1234));
    sim.shutdown().await;
}

#[tokio::test]
async fn invalid_submits_are_refused_like_an_smsc_does() {
    let sim = start_sim(0).await;
    let mut client = Client::bound(&sim, "kcell", Bind::Tx).await;
    let mut cases: Vec<(SubmitSm, CommandStatus)> = Vec::new();
    let mut letters = submit_sm("77011234567", "x");
    letters.destination_addr = COctetString::from_str("call-me").unwrap();
    cases.push((letters, CommandStatus::EsmeRinvdstadr));
    let mut empty = submit_sm("77011234567", "x");
    empty.destination_addr = COctetString::empty();
    cases.push((empty, CommandStatus::EsmeRinvdstadr));
    cases.push((
        submit_sm("77011234567", "x").with_data_coding(DataCoding::Other(0x06)),
        CommandStatus::EsmeRinvdcs,
    ));
    // UDHI set, but the header claims more octets than the message has.
    let mut bad_udh = submit_sm("77011234567", "x");
    bad_udh.esm_class = EsmClass::from(0x40);
    bad_udh.set_short_message(OctetString::from_vec(vec![0x09, 0x00, 0x03, 0x01]).unwrap());
    cases.push((bad_udh, CommandStatus::EsmeRinvesmclass));
    // UCS-2 with an odd number of octets.
    let mut odd = submit_sm("77011234567", "Иә");
    odd.set_short_message(OctetString::from_vec(vec![0x04, 0x18, 0x04]).unwrap());
    cases.push((odd, CommandStatus::EsmeRinvmsglen));
    // Test number …0004 is always refused.
    cases.push((submit_sm("77010000004", "x"), CommandStatus::EsmeRinvdstadr));
    let refused = cases.len() as u64;
    for (sm, expected) in cases {
        let (status, id) = client.submit(sm).await;
        assert_eq!(status, expected);
        assert!(id.is_empty());
    }
    assert!(sim.messages().is_empty());
    let stats = sim.operator_stats("kcell").unwrap();
    assert_eq!((stats.rejected, stats.parts), (refused, 0));
    sim.shutdown().await;
}

#[tokio::test]
async fn fifty_outstanding_submits_are_answered_with_their_sequence_numbers() {
    let sim = start_sim(0).await;
    let mut client = Client::bound(&sim, "kcell", Bind::Tx).await;
    let mut sent = HashSet::new();
    for i in 0..50 {
        let seq = client.next_sequence();
        let sm = submit_sm(&format!("770155{:05}", 100 + i), &format!("message {i}"));
        client
            .send(Command::new(CommandStatus::EsmeRok, seq, sm))
            .await;
        sent.insert(seq);
    }
    let mut answered = HashSet::new();
    let mut ids = HashSet::new();
    while answered.len() < sent.len() {
        let resp = client.recv_within(WAIT).await.expect("an answer");
        assert_eq!(resp.id(), CommandId::SubmitSmResp);
        assert_eq!(resp.status(), CommandStatus::EsmeRok);
        assert!(sent.contains(&resp.sequence_number()));
        assert!(answered.insert(resp.sequence_number()), "answered twice");
        let Some(Pdu::SubmitSmResp(r)) = resp.pdu() else {
            panic!("no body")
        };
        assert!(ids.insert(r.message_id().as_str().to_string()), "id reused");
    }
    let messages = sim.wait_for_messages(50, WAIT).await.unwrap();
    let held: HashSet<String> = messages
        .iter()
        .flat_map(|m| m.message_ids.iter().cloned())
        .collect();
    assert_eq!(held, ids);
    sim.shutdown().await;
}

#[tokio::test]
async fn query_sm_reports_the_state() {
    let sim = start_sim(0).await;
    let mut client = Client::bound(&sim, "kcell", Bind::Tx).await;
    let (_, delivered) = client.submit(submit_sm("77011234567", "a")).await;
    let (_, undeliverable) = client.submit(submit_sm("77010000000", "b")).await;
    let (_, never) = client.submit(submit_sm("77010000001", "c")).await;
    for (id, state) in [
        (delivered, MessageState::Delivered),
        (undeliverable, MessageState::Undeliverable),
        (never, MessageState::Enroute),
    ] {
        let query = QuerySm::builder()
            .message_id(COctetString::from_str(&id).unwrap())
            .build();
        let resp = client.request(query).await;
        assert_eq!(resp.status(), CommandStatus::EsmeRok);
        let Some(Pdu::QuerySmResp(r)) = resp.pdu() else {
            panic!("no query_sm_resp body")
        };
        assert_eq!(r.message_id.as_str(), id);
        assert_eq!(r.message_state, state);
    }
    let unknown = QuerySm::builder()
        .message_id(COctetString::from_str("no-such-id").unwrap())
        .build();
    assert_eq!(
        client.request(unknown).await.status(),
        CommandStatus::EsmeRqueryfail
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn resubmitted_messages_are_counted_as_duplicates() {
    let sim = start_sim(0).await;
    let mut client = Client::bound(&sim, "kcell", Bind::Tx).await;
    for _ in 0..2 {
        client.submit(submit_sm("77011234567", "same text")).await;
    }
    client.submit(submit_sm("77011234567", "other text")).await;
    let messages = sim.wait_for_messages(3, WAIT).await.unwrap();
    let flags: Vec<bool> = messages.iter().map(|m| m.duplicate).collect();
    assert_eq!(flags, [false, true, false]);
    assert_eq!(sim.operator_stats("kcell").unwrap().duplicates, 1);
    sim.clear_messages();
    assert!(sim.messages().is_empty());
    sim.shutdown().await;
}
