//! Mobile-originated messages: injection and simulated subscriber replies.

mod common;

use common::{Bind, Client, KAZAKH, WAIT, start_sim, submit_sm, ucs2_text};
use smpp_sim::{ReplyRule, SimConfig, Simulator};

#[tokio::test]
async fn injected_mo_reaches_a_receiver_bind_as_ucs2() {
    let sim = start_sim(0).await;
    let mut rx = Client::bound(&sim, "kcell", Bind::Rx).await;
    let parts = sim.inject_mo("kcell", "77011234567", "1414", "Иә").unwrap();
    assert_eq!(parts, 1);
    let mo = rx.next_deliver_sm().await;
    assert_eq!(u8::from(mo.esm_class), 0x00);
    assert_eq!(u8::from(mo.data_coding), 0x08);
    assert_eq!(mo.source_addr.as_str(), "77011234567");
    assert_eq!(mo.destination_addr.as_str(), "1414");
    assert_eq!(ucs2_text(mo.short_message().as_ref()), "Иә");
    sim.wait_for_stats("kcell", WAIT, |s| s.mo_sent == 1 && s.mo_acked == 1)
        .await
        .unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn latin_mo_is_gsm7_and_long_mo_is_concatenated() {
    let sim = start_sim(0).await;
    let mut rx = Client::bound(&sim, "kcell", Bind::Trx).await;
    sim.inject_mo("kcell", "77021234567", "1414", "YES")
        .unwrap();
    let mo = rx.next_deliver_sm().await;
    assert_eq!(u8::from(mo.data_coding), 0x00);
    assert_eq!(mo.short_message().as_ref(), b"YES");

    let long = format!("{KAZAKH} {KAZAKH}");
    let parts = sim
        .inject_mo("kcell", "77021234567", "1414", &long)
        .unwrap();
    assert_eq!(parts, 2);
    let mut joined = Vec::new();
    for n in 1..=2u8 {
        let part = rx.next_deliver_sm().await;
        assert_eq!(u8::from(part.esm_class), 0x40, "UDHI set");
        let bytes = part.short_message().as_ref();
        assert_eq!(&bytes[..6], &[0x05, 0x00, 0x03, bytes[3], 2, n]);
        joined.extend_from_slice(&bytes[6..]);
    }
    assert_eq!(ucs2_text(&joined), long);
    sim.shutdown().await;
}

#[tokio::test]
async fn mo_waits_for_a_receiver_bind() {
    let sim = start_sim(0).await;
    sim.inject_mo("kcell", "77011234567", "egov", "later")
        .unwrap();
    let _tx = Client::bound(&sim, "kcell", Bind::Tx).await;
    assert_eq!(sim.operator_stats("kcell").unwrap().mo_pending, 1);
    let mut rx = Client::bound(&sim, "kcell", Bind::Rx).await;
    let mo = rx.next_deliver_sm().await;
    assert_eq!(mo.short_message().as_ref(), b"later");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_subscriber_replies_to_a_question() {
    let mut config = SimConfig::single("kcell");
    config.replies = vec![ReplyRule {
        contains: "?".into(),
        reply: "Иә".into(),
        delay_ms: 50,
        operator: None,
    }];
    let sim = Simulator::start(config).await.unwrap();
    let mut client = Client::bound(&sim, "kcell", Bind::Trx).await;
    client.auto_ack = true;
    client
        .submit(submit_sm("77011234567", "No question here."))
        .await;
    client
        .submit(submit_sm("77017654321", "Өтінімді растайсыз ба?"))
        .await;
    // Receipts come too; wait for the one deliver_sm that is not a receipt.
    let reply = loop {
        let sm = client.next_deliver_sm().await;
        if u8::from(sm.esm_class) != 0x04 {
            break sm;
        }
    };
    assert_eq!(reply.source_addr.as_str(), "77017654321");
    assert_eq!(reply.destination_addr.as_str(), "egov");
    assert_eq!(ucs2_text(reply.short_message().as_ref()), "Иә");
    let stats = sim
        .wait_for_stats("kcell", WAIT, |s| s.mo_acked == 1)
        .await
        .unwrap();
    assert_eq!(stats.mo_sent, 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn bad_mo_requests_are_errors() {
    let sim = start_sim(0).await;
    assert!(sim.inject_mo("nosuch", "77011234567", "1414", "x").is_err());
    assert!(sim.inject_mo("kcell", "", "1414", "x").is_err());
    assert!(
        sim.inject_mo("kcell", "770112345678901234567890", "1414", "x")
            .is_err()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn reply_rules_change_at_runtime_and_respect_the_operator_filter() {
    let sim = start_sim(0).await;
    sim.set_reply_rules(vec![
        ReplyRule {
            contains: String::new(),
            reply: "from beeline".into(),
            delay_ms: 0,
            operator: Some("beeline".into()),
        },
        ReplyRule {
            contains: "stop".into(),
            reply: "STOP OK".into(),
            delay_ms: 0,
            operator: Some("kcell".into()),
        },
    ]);
    let mut client = Client::bound(&sim, "kcell", Bind::Trx).await;
    client
        .submit(submit_sm("77011234567", "Reply STOP to unsubscribe"))
        .await;
    let reply = loop {
        let sm = client.next_deliver_sm().await;
        if u8::from(sm.esm_class) != 0x04 {
            break sm;
        }
    };
    assert_eq!(reply.short_message().as_ref(), b"STOP OK");
    // Rules run while the submit is handled, so a second reply would already be counted.
    let stats = sim
        .wait_for_stats("kcell", WAIT, |s| s.mo_acked == 1)
        .await
        .unwrap();
    assert_eq!((stats.mo_sent, stats.mo_pending), (1, 0));
    sim.shutdown().await;
}
