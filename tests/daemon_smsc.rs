//! The real daemon against SMSCs that behave like operators' SMSCs and broken ones, as
//! smpp-sim can: every fault of a hostile operator at once, receipts early, late, in another
//! base or without their TLV, an SMSC that unbinds us, refuses binds, pauses its answers,
//! sends PDUs too large for a default client or bodies that do not decode, unknown commands
//! and responses nobody asked for. What an operator enforces must hold: no part it accepted
//! is sent again, every deliver_sm is answered at once, the TPS cap holds, generic_nack says
//! what is wrong, and a broken PDU never costs the bind.

mod daemon_support;
#[path = "daemon_faults/helpers.rs"]
mod helpers;

use daemon_support::{Daemon, PATIENCE, Tuning, simulator, submit, write_tuned_config};
use helpers::*;
use khabar::message::State;
use smpp_sim::{InjectPdu, OperatorStats, SimHandle};
use std::time::Duration;

/// A Kazakh text long enough for three UCS-2 parts, different for each `n`.
fn long_kazakh(n: usize) -> String {
    format!(
        "Құрметті көрсетілетін қызметті алушы! Әлеуметтік әмиян бойынша қолдау шарасы \
         тағайындалды. Толығырақ ақпаратты egov.kz порталынан немесе 1414 нөмірі арқылы \
         алыңыз. Өтініш нөмірі {n:06}. Рақмет!"
    )
}

/// The texts of a load: every tenth long and Kazakh, the rest short, half of them Kazakh.
fn mixed_text(n: usize) -> String {
    match n % 10 {
        0 => long_kazakh(n),
        k if k % 2 == 0 => format!("Хабарлама {n}: өтінішіңіз қабылданды"),
        _ => format!("Notice {n}: your application was received"),
    }
}

/// Starts a daemon in `dir` tuned by `tuning` and submits `count` notifications to kcell
/// numbers of `series`, with texts `"{label} {n}"`; returns it, a client and what it accepted.
async fn kcell_load(
    sim: &SimHandle,
    dir: &std::path::Path,
    tuning: &Tuning,
    count: usize,
    series: u32,
    label: &str,
) -> (
    Daemon,
    khabar::api::client::Client,
    Vec<(khabar::message::MessageId, String)>,
) {
    let daemon = Daemon::start(&write_tuned_config(dir, sim, tuning)).await;
    let mut client = daemon.client().await;
    let text = |n| format!("{label} {n}");
    let sent = submit_many(
        &mut client,
        count,
        "notification",
        |n| kcell_number(series, n),
        text,
    )
    .await;
    (daemon, client, sent)
}

/// Waits until `condition` holds for the sum of every operator's counters.
async fn wait_for_total(sim: &SimHandle, what: &str, condition: impl Fn(&OperatorStats) -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let total = total_stats(sim);
        if condition(&total) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never saw {what}: {total:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every operator's counters added up.
fn total_stats(sim: &SimHandle) -> OperatorStats {
    let mut total = OperatorStats::default();
    for s in sim.stats() {
        total.parts += s.parts;
        total.submits += s.submits;
        total.throttled += s.throttled;
        total.rejected += s.rejected;
        total.nacks_sent += s.nacks_sent;
        total.bind_failures += s.bind_failures;
        total.binds_total += s.binds_total;
        total.unbinds_sent += s.unbinds_sent;
        total.connections_dropped += s.connections_dropped;
        total.duplicates += s.duplicates;
        total.receipts_acked += s.receipts_acked;
        total.resubmitted_after_ok += s.resubmitted_after_ok;
        total.deliver_answered_late += s.deliver_answered_late;
        total.deliver_unanswered += s.deliver_unanswered;
        total.deliver_answer_max_ms = total.deliver_answer_max_ms.max(s.deliver_answer_max_ms);
    }
    total
}

/// The operator's rules on the answers it got: nothing accepted sent again, every deliver_sm
/// answered within a second, the TPS cap never exceeded in any second.
fn assert_well_mannered(sim: &SimHandle, tps: u32) {
    for s in sim.stats() {
        let op = &s.operator;
        assert_eq!(
            s.resubmitted_after_ok, 0,
            "{op}: parts sent again after ESME_ROK"
        );
        assert_eq!(s.deliver_answered_late, 0, "{op}: deliver_sm answered late");
        assert_eq!(s.deliver_unanswered, 0, "{op}: deliver_sm left unanswered");
        assert!(
            s.max_parts_per_second <= u64::from(tps),
            "{op}: over the TPS cap: {s:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn under_every_fault_at_once_nothing_accepted_goes_twice_and_receipts_are_answered_at_once() {
    let sim = simulator().await;
    for op in OPERATORS {
        sim.update_faults(op, |f| {
            f.throttle_share = 0.1;
            f.queue_full_share = 0.03;
            f.nack_share = 0.02;
            f.drop_after_submits = Some(400);
            f.refuse_binds = 2;
        })
        .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let tuning = Tuning {
        tps: 150,
        extra: FAST_RETRY.into(),
        // longer than the pause below: every submit is answered, none times out
        operator: "response_timeout = \"20s\"".into(),
        ..Tuning::default()
    };
    let daemon = Daemon::start(&write_tuned_config(dir.path(), &sim, &tuning)).await;
    let mut client = daemon.client().await;
    let sent = submit_many(
        &mut client,
        3000,
        "notification",
        |n| spread_number(1, n),
        mixed_text,
    )
    .await;
    wait_for_total(&sim, "600 parts accepted", |s| s.parts >= 600).await;
    for op in OPERATORS {
        sim.apply_fault(op, &smpp_sim::Fault::Pause(Duration::from_secs(10)))
            .unwrap();
    }
    // OTPs behind the backlog and the pause still go out within their 60 s
    let otps = submit_many(
        &mut client,
        30,
        "otp",
        |n| spread_number(9, n),
        |n| format!("Your eGov code is {:04}", 1000 + n),
    )
    .await;
    wait_for_total(&sim, "1,500 parts accepted", |s| s.parts >= 1500).await;
    for op in OPERATORS {
        sim.unbind(op).unwrap();
    }
    let (otp_views, _) = delivered_once(&mut client, &sim, &otps).await;
    let (_, extra_copies) = delivered_once(&mut client, &sim, &sent).await;
    let sent_to = |v: &khabar::api::views::MessageView| {
        let submitted = v.history.iter().find(|t| t.state == State::Submitted);
        submitted.map(|t| t.at - v.history[0].at)
    };
    let slowest_otp = otp_views
        .values()
        .filter_map(sent_to)
        .max()
        .unwrap_or_default();
    let total = total_stats(&sim);
    eprintln!(
        "fault mix: {} submitted (+{} OTPs, slowest accepted by the SMSC {} ms after it was \
         accepted here), {} final and delivered, {} parts resubmitted after ESME_ROK, \
         {} deliver_sm answered late, {} unanswered (slowest answer {} ms), {} extra copies at \
         the SMSC ({} duplicates counted); {} throttled/queue-full, {} generic_nack, {} binds \
         refused, {} connections dropped, {} unbinds",
        sent.len(),
        otps.len(),
        slowest_otp,
        sent.len(),
        total.resubmitted_after_ok,
        total.deliver_answered_late,
        total.deliver_unanswered,
        total.deliver_answer_max_ms,
        extra_copies,
        total.duplicates,
        total.throttled + total.rejected,
        total.nacks_sent,
        total.bind_failures,
        total.connections_dropped,
        total.unbinds_sent,
    );
    // every fault happened
    assert!(total.throttled > 0 && total.nacks_sent > 0, "{total:?}");
    assert!(
        total.bind_failures >= 2 * OPERATORS.len() as u64,
        "{total:?}"
    );
    assert!(
        total.unbinds_sent > 0 && total.connections_dropped > 0,
        "{total:?}"
    );
    // Extra copies can only be submits the SMSC accepted but whose answer it never wrote
    // (a connection dropped while answers were paused): at-least-once, never after an OK.
    assert_well_mannered(&sim, tuning.tps);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_receipt_for_an_id_we_never_learned_is_answered_at_once() {
    let sim = simulator().await;
    // now and then the SMSC accepts a submit but the connection drops before its answer:
    // the receipt that follows names an id khabar never stored
    sim.update_faults("kcell", |f| f.drop_probability = 0.03)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tuning = Tuning {
        extra: FAST_RETRY.into(),
        sending: "early_receipt_hold = \"3s\"".into(),
        ..Tuning::default()
    };
    let (daemon, mut client, sent) = kcell_load(&sim, dir.path(), &tuning, 300, 2, "receipt").await;
    delivered_once(&mut client, &sim, &sent).await;
    let kcell = sim.operator_stats("kcell").unwrap();
    assert!(
        kcell.connections_dropped > 0,
        "no answer was lost: {kcell:?}"
    );
    // every receipt of a lost answer came for an unknown id; each was answered at once
    sim.wait_for_stats("kcell", PATIENCE, |s| s.receipts_pending == 0)
        .await
        .unwrap();
    assert_well_mannered(&sim, tuning.tps);
    daemon.stop().await;
}

/// Sends 100 messages through kcell whose receipts behave as `receipts` says; all must be
/// delivered, each once, every deliver_sm answered at once.
async fn delivered_with_receipts(receipts: impl FnOnce(&mut smpp_sim::ReceiptConfig)) {
    let sim = simulator().await;
    let mut config = smpp_sim::ReceiptConfig {
        min_delay_ms: 0,
        max_delay_ms: 50,
        ..Default::default()
    };
    receipts(&mut config);
    sim.set_receipts("kcell", config).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tuning = Tuning::default();
    let (daemon, mut client, sent) =
        kcell_load(&sim, dir.path(), &tuning, 100, 3, "receipt kind").await;
    let (_, extra_copies) = delivered_once(&mut client, &sim, &sent).await;
    assert_eq!(extra_copies, 0);
    assert_well_mannered(&sim, tuning.tps);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn receipts_whose_id_is_in_decimal_while_the_submit_answer_was_hex_are_matched() {
    delivered_with_receipts(|r| r.id_in_decimal = true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn receipts_without_receipted_message_id_are_matched_by_their_text() {
    delivered_with_receipts(|r| r.receipted_message_id = false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn receipts_that_come_before_the_submit_answer_are_answered_at_once_and_matched() {
    delivered_with_receipts(|r| r.before_response = true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_smsc_that_unbinds_gets_its_answers_first_and_khabar_binds_again() {
    let sim = simulator().await;
    // answers take a while, so submits are outstanding when the unbind comes
    sim.apply_fault(
        "kcell",
        &smpp_sim::Fault::ResponseDelay(Duration::from_millis(200)),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tuning = Tuning::default();
    let (daemon, mut client, sent) = kcell_load(&sim, dir.path(), &tuning, 400, 4, "unbind").await;
    sim.wait_for_stats("kcell", PATIENCE, |s| s.parts >= 100)
        .await
        .unwrap();
    let binds_before = sim.operator_stats("kcell").unwrap().binds_total;
    assert!(
        sim.unbind("kcell").unwrap() > 0,
        "no bound connection to unbind"
    );
    let (_, extra_copies) = delivered_once(&mut client, &sim, &sent).await;
    let kcell = sim.operator_stats("kcell").unwrap();
    assert!(kcell.unbind_resps_received > 0, "{kcell:?}");
    assert!(
        kcell.binds_total > binds_before,
        "never bound again: {kcell:?}"
    );
    assert_eq!(
        extra_copies, 0,
        "outstanding submits were answered before the unbind_resp"
    );
    assert_well_mannered(&sim, tuning.tps);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn binds_refused_at_first_are_tried_again_until_they_succeed() {
    let sim = simulator().await;
    sim.update_faults("kcell", |f| f.refuse_binds = 3).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(&write_tuned_config(dir.path(), &sim, &Tuning::default())).await;
    let mut client = daemon.client().await;
    let to = kcell_number(5, 1);
    let id = submit(&mut client, &to, "after three refusals", "notification").await;
    assert_eq!(
        daemon_support::wait_final(&mut client, id).await.state,
        State::Delivered
    );
    assert_eq!(sim.operator_stats("kcell").unwrap().bind_failures, 3);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn long_messages_to_one_number_in_flight_together_carry_different_references() {
    let sim = simulator().await;
    // every operator is down while they are accepted, so all go out together when one is up
    fault_everywhere(&sim, &smpp_sim::Fault::Down);
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(&write_tuned_config(dir.path(), &sim, &Tuning::default())).await;
    let mut client = daemon.client().await;
    let to = kcell_number(6, 1);
    let texts: Vec<String> = (0..6).map(long_kazakh).collect();
    let mut ids = Vec::new();
    for text in &texts {
        ids.push(submit(&mut client, &to, text, "notification").await);
    }
    fault_everywhere(&sim, &smpp_sim::Fault::Up);
    let views = wait_all_final(&mut client, ids.iter().copied()).await;
    assert!(
        views.values().all(|v| v.state == State::Delivered),
        "{views:?}"
    );
    let received: Vec<_> = sim
        .messages()
        .into_iter()
        .filter(|m| m.destination == to)
        .collect();
    let mut got: Vec<&str> = received.iter().map(|m| m.text.as_str()).collect();
    got.sort();
    let mut want: Vec<&str> = texts.iter().map(String::as_str).collect();
    want.sort();
    assert_eq!(
        got, want,
        "the handset would have joined parts of different messages"
    );
    let mut references: Vec<_> = received.iter().map(|m| m.concat_reference).collect();
    references.sort();
    references.dedup();
    assert_eq!(references.len(), texts.len(), "{references:?}");
    assert!(received.iter().all(|m| m.parts == 3 && !m.duplicate));
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_large_legal_deliver_sm_after_every_bind_is_read_and_the_binds_stay_up() {
    let sim = simulator().await;
    sim.update_faults("kcell", |f| f.large_deliver_after_bind = Some(5000))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tuning = Tuning::default();
    let (daemon, mut client, sent) =
        kcell_load(&sim, dir.path(), &tuning, 50, 7, "after a large PDU").await;
    delivered_once(&mut client, &sim, &sent).await;
    let kcell = sim
        .wait_for_stats("kcell", PATIENCE, |s| s.mo_acked >= u64::from(tuning.binds))
        .await
        .unwrap();
    // each bind read its 5,000-octet PDU, answered it, and lived on
    assert_eq!(kcell.binds_total, u64::from(tuning.binds), "{kcell:?}");
    assert_eq!(kcell.large_sent, u64::from(tuning.binds));
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deliver_sm_whose_body_does_not_decode_gets_generic_nack_and_the_bind_lives_on() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(&write_tuned_config(dir.path(), &sim, &Tuning::default())).await;
    let mut client = daemon.client().await;
    wait_for_status(&mut client, "every bind up", all_binds_up).await;
    let binds_before = sim.operator_stats("kcell").unwrap().binds_total;
    let written = sim.inject("kcell", InjectPdu::MalformedDeliverSm).unwrap();
    assert!(written > 0);
    let answers = wait_for_injected_answers(&sim, "kcell", written).await;
    for injected in &answers {
        assert_eq!(
            injected.answers,
            [(GENERIC_NACK, ESME_RINVCMDLEN)],
            "{injected:?}"
        );
    }
    let to = kcell_number(8, 1);
    let id = submit(&mut client, &to, "after a broken PDU", "notification").await;
    assert_eq!(
        daemon_support::wait_final(&mut client, id).await.state,
        State::Delivered
    );
    assert_eq!(
        sim.operator_stats("kcell").unwrap().binds_total,
        binds_before
    );
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn binds_that_die_soon_after_binding_back_off_further_each_time() {
    let sim = simulator().await;
    sim.update_faults("kcell", |f| f.close_after_bind_ms = Some(100))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tuning = Tuning {
        binds: 1,
        reconnect_min: "50ms",
        reconnect_max: "2s",
        ..Tuning::default()
    };
    let daemon = Daemon::start(&write_tuned_config(dir.path(), &sim, &tuning)).await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let times = loop {
        let times = sim.bind_times("kcell").unwrap();
        if times.len() >= 7 {
            break times;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} binds",
            times.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // Each session lasts 100 ms; then the wait before the next bind is at least half the
    // current delay, which starts at 50 ms and doubles up to 2 s. A delay that started over
    // after each bind would keep every gap near 125 ms.
    for (k, pair) in times.windows(2).take(6).enumerate() {
        let gap = pair[1].duration_since(pair[0]);
        let delay = Duration::from_millis((50u64 << k).min(2000));
        let least = Duration::from_millis(100) + delay / 2;
        assert!(
            gap >= least,
            "gap {k} was {gap:?}, less than {least:?}: {times:?}"
        );
    }
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unknown_commands_get_generic_nack_with_an_error_and_responses_are_never_answered() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(&write_tuned_config(dir.path(), &sim, &Tuning::default())).await;
    let mut client = daemon.client().await;
    wait_for_status(&mut client, "every bind up", all_binds_up).await;
    // the responses first: on one connection, khabar handles PDUs in order, so whatever it
    // would answer to them comes before its answer to the unknown command
    sim.inject("kcell", InjectPdu::UnsolicitedSubmitSmResp)
        .unwrap();
    sim.inject("kcell", InjectPdu::UnexpectedResponse).unwrap();
    let written = sim.inject("kcell", InjectPdu::UnknownCommand).unwrap();
    let injected = wait_for_injected_answers(&sim, "kcell", written).await;
    for one in &injected {
        match one.pdu {
            InjectPdu::UnknownCommand => {
                assert_eq!(one.answers, [(GENERIC_NACK, ESME_RINVCMDID)], "{one:?}")
            }
            _ => assert!(one.answers.is_empty(), "a response was answered: {one:?}"),
        }
    }
    let kcell = sim.operator_stats("kcell").unwrap();
    assert_eq!(kcell.answers_to_responses, 0);
    assert_eq!(kcell.generic_nacks_ok_status, 0);
    daemon.stop().await;
}

/// command_id of generic_nack.
const GENERIC_NACK: u32 = 0x8000_0000;
/// ESME_RINVCMDLEN: the PDU's length or body is wrong.
const ESME_RINVCMDLEN: u32 = 0x02;
/// ESME_RINVCMDID: the command is unknown.
const ESME_RINVCMDID: u32 = 0x03;

/// Waits until `count` injected unknown-command / malformed PDUs of `operator` have an
/// answer (responses never should); returns every injected PDU with its answers.
async fn wait_for_injected_answers(
    sim: &SimHandle,
    operator: &str,
    count: usize,
) -> Vec<smpp_sim::Injected> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let injected = sim.injected(operator).unwrap();
        let answerable =
            |p: &InjectPdu| matches!(p, InjectPdu::UnknownCommand | InjectPdu::MalformedDeliverSm);
        let answered = injected
            .iter()
            .filter(|i| answerable(&i.pdu) && !i.answers.is_empty())
            .count();
        if answered >= count {
            return injected;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "unanswered: {injected:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
