//! The real daemon against the real simulator over real sockets: messages go out in the
//! right alphabet and parts, come back with receipts, permanent refusals and undeliverable
//! numbers end in the right states, and replies reach subscribers.

mod daemon_support;

use daemon_support::{Daemon, PATIENCE, simulator, submit, wait_final, write_config};
use khabar::message::State;
use khabar::number::normalize;

const KAZAKH: &str = "Құрметті азамат! Сіздің «Баланың тууына байланысты біржолғы төлем тағайындау» \
    мемлекеттік қызметі бойынша өтінішіңіз қаралды және оң шешім қабылданды. Төлем 10 жұмыс \
    күні ішінде сіздің шотыңызға аударылады. Сұрақтар бойынша 1414 нөміріне хабарласыңыз.";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn messages_are_sent_in_parts_and_delivered() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(&write_config(dir.path(), &sim, "")).await;
    let mut client = daemon.client().await;
    let cases = [
        (
            "+77011234567",
            "Your code for eGov is ready",
            "notification",
        ),
        ("87051234568", KAZAKH, "notification"),
        ("77071234569", "Қызмет нәтижесі дайын", "otp"),
        (
            "+77771234565",
            "Bulk notice: offices closed on 16 December",
            "bulk",
        ),
    ];
    let mut ids = Vec::new();
    for (to, text, kind) in cases {
        ids.push(submit(&mut client, to, text, kind).await);
    }
    for (id, (to, text, _)) in ids.iter().zip(cases) {
        let view = wait_final(&mut client, *id).await;
        assert_eq!(view.state, State::Delivered, "{view:?}");
        let number = normalize(to).unwrap();
        let sent: Vec<_> = sim
            .messages()
            .into_iter()
            .filter(|m| m.destination == number.as_str())
            .collect();
        assert_eq!(sent.len(), 1, "sent exactly once to {to}");
        assert_eq!(sent[0].text, text, "the text arrives intact");
        let expected_coding = if text.is_ascii() { 0x00 } else { 0x08 };
        assert_eq!(sent[0].data_coding, expected_coding);
        assert_eq!(view.parts.len(), usize::from(sent[0].parts));
        assert!(
            view.parts
                .iter()
                .all(|p| p.receipt.as_deref() == Some("DELIVRD"))
        );
        let operator = view.operator.clone().expect("operator recorded");
        assert_eq!(operator, sent[0].operator, "routed by prefix");
    }
    let long = sim
        .messages()
        .into_iter()
        .find(|m| m.destination == "77051234568")
        .unwrap();
    assert!(long.parts > 1, "a long Kazakh text is split into parts");
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refusals_and_failed_deliveries_end_in_their_states() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(&write_config(dir.path(), &sim, "")).await;
    let mut client = daemon.client().await;
    // smpp-sim's test numbers: ...0004 is refused with ESME_RINVDSTADR, ...0000 UNDELIV.
    let refused = submit(&mut client, "+77010000004", "hello", "notification").await;
    let undeliverable = submit(&mut client, "+77010000000", "hello", "notification").await;
    let refused = wait_final(&mut client, refused).await;
    assert_eq!(refused.state, State::Rejected);
    let reason = refused.history.last().unwrap().reason.clone().unwrap();
    assert!(reason.contains("ESME_RINVDSTADR"), "{reason}");
    let undeliverable = wait_final(&mut client, undeliverable).await;
    assert_eq!(undeliverable.state, State::Undeliverable);
    assert_eq!(undeliverable.parts[0].receipt.as_deref(), Some("UNDELIV"));
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_route_that_is_down_hands_its_messages_to_the_fallback() {
    let sim = simulator().await;
    sim.set_down("kcell", true).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(&write_config(dir.path(), &sim, "")).await;
    let mut client = daemon.client().await;
    let id = submit(
        &mut client,
        "+77011112233",
        "via the fallback",
        "notification",
    )
    .await;
    let view = wait_final(&mut client, id).await;
    assert_eq!(view.state, State::Delivered);
    assert_ne!(view.operator.as_deref(), Some("kcell"));
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_mobile_originated_reply_reaches_subscribers() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(&write_config(dir.path(), &sim, "")).await;
    // wait until kcell's binds are up, so the MO has somewhere to go
    let mut client = daemon.client().await;
    let id = submit(
        &mut client,
        "+77011234567",
        "Келісесіз бе? Иә / Жоқ",
        "request",
    )
    .await;
    wait_until_submitted(&mut client, id).await;
    sim.inject_mo("kcell", "77011234567", "1414", "Иә").unwrap();
    let mut events = daemon
        .client()
        .await
        .subscribe(Some("test"), None)
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let event = tokio::time::timeout_at(deadline, events.next_event())
            .await
            .expect("a reply event in time")
            .unwrap();
        if event.text.as_deref() == Some("Иә") {
            assert_eq!(event.from.as_deref(), Some("77011234567"));
            break;
        }
    }
    daemon.stop().await;
}

async fn wait_until_submitted(
    client: &mut khabar::api::client::Client,
    id: khabar::message::MessageId,
) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let view = client
            .get(&khabar::api::protocol::MessageRef::Id(id))
            .await
            .unwrap()
            .unwrap();
        if view.state != State::Queued && view.state != State::Submitting {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// After a restart the first `status` counts what is true: messages awaiting receipts are the
/// ones still `submitted`, not the halfway state of reading the event log back (where every
/// message seen submitted counts until its receipt further on is read).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn status_counts_are_right_from_the_first_answer_after_a_restart() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim, "");
    let daemon = Daemon::start(&config).await;
    let mut client = daemon.client().await;
    let mut delivered = Vec::new();
    for n in 0..300 {
        delivered.push(
            submit(
                &mut client,
                &format!("+7701{:07}", 1_000_100 + n),
                "b",
                "bulk",
            )
            .await,
        );
    }
    for id in delivered {
        wait_final(&mut client, id).await;
    }
    // from now on receipts take an hour: these stay awaiting theirs
    for operator in sim.operators() {
        let slow = smpp_sim::ReceiptConfig {
            min_delay_ms: 3_600_000,
            max_delay_ms: 3_600_000,
            ..Default::default()
        };
        sim.set_receipts(&operator.name, slow).unwrap();
    }
    let mut waiting = Vec::new();
    for n in 0..20 {
        waiting.push(
            submit(
                &mut client,
                &format!("+7705{:07}", 1_000_100 + n),
                "w",
                "bulk",
            )
            .await,
        );
    }
    for &id in &waiting {
        wait_until_submitted(&mut client, id).await;
    }
    drop(client);
    daemon.stop().await;

    let daemon = Daemon::start(&config).await;
    let mut client = daemon.client().await;
    let status = client.status().await.unwrap().unwrap();
    let bulk = (status.lanes.iter())
        .find(|l| l.kind == khabar::message::Kind::Bulk)
        .unwrap();
    assert_eq!(
        (bulk.queued, bulk.submitting, bulk.submitted),
        (0, 0, waiting.len() as u64),
        "awaiting receipts at the first status after the restart"
    );
    drop(client);
    daemon.stop().await;
}
