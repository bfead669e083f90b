//! The SMPP client must never sit on queued submits: rusmppc 0.4.0 could lose a wake-up when
//! more than a handful of requests were queued at once, and the bind then stalled until the next
//! enquire_link (vendor/PATCHES.md). Here the keep-alive is an hour away, so only the fix can
//! move the bursts along.

use std::str::FromStr;
use std::time::Duration;

use futures::future::join_all;
use rusmpp::pdus::{BindTransceiver, SubmitSm};
use rusmpp::types::{COctetString, OctetString};
use rusmpp::values::InterfaceVersion;
use rusmppc::ConnectionBuilder;
use smpp_sim::{SimConfig, Simulator};

/// Bursts sent back to back on one bind, and submits in each.
const ROUNDS: usize = 30;
const BURST: usize = 200;

/// Only a guard so a regression fails instead of hanging CI: an hour-long keep-alive means a
/// stalled bind would otherwise wait an hour.
const STALL_GUARD: Duration = Duration::from_secs(300);

/// A plain submit to an ordinary number (none of the simulator's magic tails …0000–…0004).
fn submit(n: usize) -> SubmitSm {
    SubmitSm::builder()
        .source_addr(COctetString::from_str("1414").unwrap())
        .destination_addr(COctetString::from_str(&format!("7701{:06}7", n % 1_000_000)).unwrap())
        .short_message(OctetString::from_str("wake-up check").unwrap())
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bursts_of_queued_submits_all_get_answers_without_keepalive_help() {
    let sim = Simulator::start(SimConfig::single("kcell")).await.unwrap();
    let url = format!("smpp://{}", sim.addr("kcell").unwrap());
    let (client, _events) = ConnectionBuilder::new()
        .enquire_link_interval(Duration::from_secs(3600))
        .response_timeout(Duration::from_secs(3600))
        .disable_interface_version_check()
        .connect(&url)
        .await
        .unwrap();
    client
        .bind_transceiver(
            BindTransceiver::builder()
                .system_id(COctetString::from_str("kcell").unwrap())
                .password(COctetString::from_str("secret").unwrap())
                .interface_version(InterfaceVersion::Smpp3_4)
                .build(),
        )
        .await
        .unwrap();

    let all = async {
        let mut answered = 0;
        for round in 0..ROUNDS {
            let burst = (0..BURST).map(|i| client.submit_sm(submit(round * BURST + i)));
            for result in join_all(burst).await {
                match result {
                    Ok(_) => answered += 1,
                    Err(e) => eprintln!("submit failed: {e}"),
                }
            }
        }
        answered
    };
    let answered = tokio::time::timeout(STALL_GUARD, all)
        .await
        .expect("the bind stalled with submits queued (lost wake-up)");

    assert_eq!(
        answered,
        ROUNDS * BURST,
        "every submit gets a submit_sm_resp"
    );
    let stats = sim.operator_stats("kcell").unwrap();
    assert_eq!(stats.parts as usize, ROUNDS * BURST, "{stats:?}");
    let _ = client.unbind().await;
    sim.shutdown().await;
}
