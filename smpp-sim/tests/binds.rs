//! Binds, credentials, bind state, enquire_link, unbind, unknown commands.

mod common;

use std::str::FromStr;

use common::{Bind, Client, WAIT, start_sim, submit_sm};
use rusmpp::pdus::BindTransceiver;
use rusmpp::types::COctetString;
use rusmpp::values::InterfaceVersion;
use rusmpp::{Command, CommandId, CommandStatus, Pdu};
use smpp_sim::{OperatorConfig, SimConfig, Simulator};

#[tokio::test]
async fn each_bind_kind_is_accepted_and_counted() {
    let sim = start_sim(0).await;
    let addr = sim.addr("kcell").unwrap();
    let mut open = Vec::new();
    for (kind, expected) in [
        (Bind::Tx, CommandId::BindTransmitterResp),
        (Bind::Rx, CommandId::BindReceiverResp),
        (Bind::Trx, CommandId::BindTransceiverResp),
    ] {
        let mut client = Client::connect(addr).await;
        let seq = client.next_sequence();
        let sid = COctetString::from_str("kcell").unwrap();
        let pw = COctetString::from_str("secret").unwrap();
        let pdu: Pdu = match kind {
            Bind::Tx => rusmpp::pdus::BindTransmitter::builder()
                .system_id(sid)
                .password(pw)
                .build()
                .into(),
            Bind::Rx => rusmpp::pdus::BindReceiver::builder()
                .system_id(sid)
                .password(pw)
                .build()
                .into(),
            Bind::Trx => BindTransceiver::builder()
                .system_id(sid)
                .password(pw)
                .build()
                .into(),
        };
        client
            .send(Command::new(CommandStatus::EsmeRok, seq, pdu))
            .await;
        let resp = client.response_to(seq).await;
        assert_eq!(resp.id(), expected);
        assert_eq!(resp.status(), CommandStatus::EsmeRok);
        open.push(client); // keep the bind open for the count below
    }
    let stats = sim.operator_stats("kcell").unwrap();
    assert_eq!(stats.binds_total, 3);
    assert_eq!(stats.binds_current, 3);
    sim.shutdown().await;
}

#[tokio::test]
async fn bad_credentials_are_refused_with_the_right_status() {
    let sim = start_sim(0).await;
    let addr = sim.addr("kcell").unwrap();
    let mut client = Client::connect(addr).await;
    assert_eq!(
        client.bind(Bind::Tx, "kcell", "wrong").await,
        CommandStatus::EsmeRinvpaswd
    );
    assert_eq!(
        client.bind(Bind::Trx, "nobody", "secret").await,
        CommandStatus::EsmeRinvsysid
    );
    // The connection survives refused binds; the right credentials still work.
    assert_eq!(
        client.bind(Bind::Trx, "kcell", "secret").await,
        CommandStatus::EsmeRok
    );
    assert_eq!(sim.operator_stats("kcell").unwrap().bind_failures, 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn operations_before_bind_get_invbndsts() {
    let sim = start_sim(0).await;
    let mut client = Client::connect(sim.addr("kcell").unwrap()).await;
    let (status, id) = client.submit(submit_sm("77011234567", "hello")).await;
    assert_eq!(status, CommandStatus::EsmeRinvbndsts);
    assert!(id.is_empty());
    // enquire_link is allowed in any state.
    let resp = client.request(Pdu::EnquireLink).await;
    assert_eq!(resp.id(), CommandId::EnquireLinkResp);
    assert!(sim.messages().is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn a_receiver_cannot_submit() {
    let sim = start_sim(0).await;
    let mut rx = Client::bound(&sim, "kcell", Bind::Rx).await;
    let (status, _) = rx.submit(submit_sm("77011234567", "hello")).await;
    assert_eq!(status, CommandStatus::EsmeRinvbndsts);
    sim.shutdown().await;
}

#[tokio::test]
async fn binds_above_the_cap_and_rebinding_get_alybnd() {
    let mut config = SimConfig::single("kcell");
    config.operators[0].max_binds = 2;
    let sim = Simulator::start(config).await.unwrap();
    let mut first = Client::bound(&sim, "kcell", Bind::Tx).await;
    let _second = Client::bound(&sim, "kcell", Bind::Rx).await;
    let mut third = Client::connect(sim.addr("kcell").unwrap()).await;
    assert_eq!(
        third.bind(Bind::Trx, "kcell", "secret").await,
        CommandStatus::EsmeRalybnd
    );
    assert_eq!(
        first.bind(Bind::Tx, "kcell", "secret").await,
        CommandStatus::EsmeRalybnd
    );
    // Unbinding the first frees a slot.
    let resp = first.request(Pdu::Unbind).await;
    assert_eq!(resp.id(), CommandId::UnbindResp);
    assert!(first.closed_by_server().await);
    sim.wait_for_stats("kcell", WAIT, |s| s.binds_current == 1)
        .await
        .unwrap();
    assert_eq!(
        third.bind(Bind::Trx, "kcell", "secret").await,
        CommandStatus::EsmeRok
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn enquire_link_unbind_and_unknown_commands() {
    let sim = start_sim(0).await;
    let mut client = Client::bound(&sim, "kcell", Bind::Trx).await;
    let resp = client.request(Pdu::EnquireLink).await;
    assert_eq!(
        (resp.id(), resp.status()),
        (CommandId::EnquireLinkResp, CommandStatus::EsmeRok)
    );
    // An unknown command id gets generic_nack ESME_RINVCMDID with its sequence number.
    let seq = client.next_sequence();
    let unknown = Pdu::Other {
        command_id: CommandId::Other(0x0000_00AB),
        body: rusmpp::types::AnyOctetString::empty(),
    };
    client
        .send(Command::new(CommandStatus::EsmeRok, seq, unknown))
        .await;
    let nack = client.response_to(seq).await;
    assert_eq!(nack.id(), CommandId::GenericNack);
    assert_eq!(nack.status(), CommandStatus::EsmeRinvcmdid);
    // unbind is answered and the connection closed.
    let resp = client.request(Pdu::Unbind).await;
    assert_eq!(
        (resp.id(), resp.status()),
        (CommandId::UnbindResp, CommandStatus::EsmeRok)
    );
    assert!(client.closed_by_server().await);
    sim.wait_for_stats("kcell", WAIT, |s| s.binds_current == 0)
        .await
        .unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn smpp_5_binds_are_accepted_and_answered_as_3_4() {
    let sim = start_sim(0).await;
    let mut client = Client::connect(sim.addr("kcell").unwrap()).await;
    let bind = BindTransceiver::builder()
        .system_id(COctetString::from_str("kcell").unwrap())
        .password(COctetString::from_str("secret").unwrap())
        .interface_version(InterfaceVersion::Smpp5_0)
        .build();
    let resp = client.request(bind).await;
    assert_eq!(resp.status(), CommandStatus::EsmeRok);
    let Some(Pdu::BindTransceiverResp(body)) = resp.pdu() else {
        panic!("no bind_transceiver_resp body");
    };
    assert_eq!(body.sc_interface_version(), Some(InterfaceVersion::Smpp3_4));
    sim.shutdown().await;
}

#[tokio::test]
async fn three_default_operators_have_their_own_accounts() {
    let sim = Simulator::start(SimConfig::ephemeral()).await.unwrap();
    let names: Vec<String> = sim.operators().into_iter().map(|o| o.name).collect();
    assert_eq!(names, ["kcell", "beeline", "tele2"]);
    let mut client = Client::connect(sim.addr("beeline").unwrap()).await;
    assert_eq!(
        client.bind(Bind::Tx, "kcell", "secret").await,
        CommandStatus::EsmeRinvsysid
    );
    assert_eq!(
        client.bind(Bind::Tx, "beeline", "secret").await,
        CommandStatus::EsmeRok
    );
    sim.shutdown().await;
    // A custom operator with its own password.
    let mut config = SimConfig::single("altel");
    config.operators = vec![OperatorConfig {
        password: "alt-pw".into(),
        ..OperatorConfig::new("altel", 0)
    }];
    let sim = Simulator::start(config).await.unwrap();
    let mut client = Client::connect(sim.addr("altel").unwrap()).await;
    assert_eq!(
        client.bind(Bind::Trx, "altel", "secret").await,
        CommandStatus::EsmeRinvpaswd
    );
    assert_eq!(
        client.bind(Bind::Trx, "altel", "alt-pw").await,
        CommandStatus::EsmeRok
    );
    sim.shutdown().await;
}
