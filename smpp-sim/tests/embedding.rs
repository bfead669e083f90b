//! What khabar relies on when it embeds the simulator: config inside its own TOML, ephemeral
//! ports, shutdown, waiting for messages.

mod common;

use std::time::Duration;

use common::{Bind, Client, WAIT, submit_sm};
use rusmpp::CommandStatus;
use serde::Deserialize;
use smpp_sim::{SimConfig, SimError, Simulator};

#[derive(Deserialize)]
struct KhabarLike {
    simulator: SimConfig,
}

#[tokio::test]
async fn config_embeds_in_a_larger_toml_and_ports_are_reported() {
    let empty: KhabarLike = toml::from_str("[simulator]\n").unwrap();
    assert_eq!(empty.simulator, SimConfig::default());

    let text = r#"
        [simulator]
        max_messages = 10
        [[simulator.operators]]
        name = "kcell"
        port = 0
        [[simulator.operators]]
        name = "tele2"
        port = 0
        password = "t2"
    "#;
    let config: KhabarLike = toml::from_str(text).unwrap();
    let sim = Simulator::start(config.simulator).await.unwrap();
    let ops = sim.operators();
    assert_eq!(ops.len(), 2);
    assert!(
        ops.iter()
            .all(|o| o.addr.port() != 0 && o.addr.ip().is_loopback())
    );
    assert_ne!(ops[0].addr, ops[1].addr);
    let mut client = Client::bound(&sim, "tele2", Bind::Tx).await;
    assert_eq!(
        client.submit(submit_sm("77471234567", "hi")).await.0,
        CommandStatus::EsmeRok
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_connections_and_listeners() {
    let sim = Simulator::start(SimConfig::ephemeral()).await.unwrap();
    let addr = sim.addr("kcell").unwrap();
    let mut client = Client::bound(&sim, "kcell", Bind::Trx).await;
    sim.shutdown().await;
    assert!(client.closed_by_server().await);
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn waiting_for_more_messages_than_arrive_times_out() {
    let sim = Simulator::start(SimConfig::single("kcell")).await.unwrap();
    let mut client = Client::bound(&sim, "kcell", Bind::Tx).await;
    client.submit(submit_sm("77011234567", "one")).await;
    assert_eq!(sim.wait_for_messages(1, WAIT).await.unwrap().len(), 1);
    let err = sim
        .wait_for_messages(2, Duration::from_millis(50))
        .await
        .unwrap_err();
    assert!(matches!(err, SimError::Timeout(_)));
    assert!(matches!(
        sim.operator_stats("nosuch"),
        Err(SimError::UnknownOperator(_))
    ));
    sim.shutdown().await;
}
