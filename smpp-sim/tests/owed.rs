//! What an operator still owes its ESME at a shutdown (a receipt sent and not yet answered, one
//! waiting for room in the window, one not yet due, an MO) is taken out whole, without the
//! text excerpt that could hold a one-time password, and sent by a simulator started later.

mod common;

use common::{Bind, Client, WAIT, receipt_fields, receipt_tlvs, submit_sm};
use rusmpp::CommandStatus;
use rusmpp::pdus::DeliverSm;
use smpp_sim::{OwedDeliveries, OwedKind, ReceiptConfig, SimConfig, SimHandle, Simulator};

/// One operator `kcell` whose receipts come at once and one at a time (window 1).
async fn start(receipts: ReceiptConfig) -> SimHandle {
    let mut config = SimConfig::single("kcell");
    config.receipts = receipts;
    Simulator::start(config).await.expect("simulator starts")
}

fn at_once() -> ReceiptConfig {
    ReceiptConfig {
        min_delay_ms: 0,
        max_delay_ms: 0,
        window: 1,
        ..ReceiptConfig::default()
    }
}

fn is_receipt(sm: &DeliverSm) -> bool {
    u8::from(sm.esm_class) & 0x04 != 0
}

#[tokio::test]
async fn what_is_owed_at_shutdown_is_taken_whole_and_sent_by_the_next_simulator() {
    let sim = start(at_once()).await;
    let mut esme = Client::bound(&sim, "kcell", Bind::Trx).await;
    esme.auto_ack = false;
    // sent, never answered: the bind gives it back when the simulator stops
    let (_, first) = esme.submit(submit_sm("77011234567", "Code 111111")).await;
    let (_, sent) = esme.next_deliver_sm_raw().await;
    assert_eq!(receipt_tlvs(&sent).0.as_deref(), Some(first.as_str()));
    // ready, waiting for room in the window
    let (_, second) = esme.submit(submit_sm("77011234568", "Code 222222")).await;
    sim.inject_mo("kcell", "77011234567", "1414", "Иә").unwrap();
    // not due for an hour
    let later = ReceiptConfig {
        min_delay_ms: 3_600_000,
        max_delay_ms: 3_600_000,
        ..at_once()
    };
    sim.set_receipts("kcell", later).unwrap();
    let (status, third) = esme.submit(submit_sm("77011234569", "Code 333333")).await;
    assert_eq!(status, CommandStatus::EsmeRok);

    let owed = sim.shutdown_and_take_pending().await;
    assert_eq!(owed.len(), 1);
    assert_eq!(owed[0].operator, "kcell");
    let kinds: Vec<OwedKind> = owed[0].items.iter().map(|i| i.kind).collect();
    use OwedKind::{Mo, Receipt};
    assert_eq!(kinds, [Receipt, Receipt, Mo, Receipt]);
    assert_eq!((owed[0].receipts(), owed[0].mos()), (3, 1));
    assert!(sim.shutdown_and_take_pending().await.is_empty());
    let saved = serde_json::to_string(&owed).unwrap();
    let owed: Vec<OwedDeliveries> = serde_json::from_str(&saved).unwrap();
    for code in ["111111", "222222", "333333"] {
        let hex: String = code.bytes().map(|b| format!("{b:02x}")).collect();
        assert!(!saved.contains(code) && !saved.contains(&hex), "{code}");
    }

    let next = start(at_once()).await;
    let mut foreign = owed.clone();
    foreign[0].operator = "nosuch".to_owned();
    assert_eq!(next.restore_pending(foreign.clone()), foreign);
    assert!(next.restore_pending(owed).is_empty());
    let mut esme = Client::bound(&next, "kcell", Bind::Trx).await;
    let mut receipts = Vec::new();
    let mut mos = 0;
    for _ in 0..4 {
        let sm = esme.next_deliver_sm().await;
        if is_receipt(&sm) {
            let fields = receipt_fields(&sm);
            assert_eq!(fields.get("text").map(String::as_str), Some(""));
            receipts.push(receipt_tlvs(&sm).0.expect("receipted_message_id"));
        } else {
            mos += 1;
        }
    }
    assert_eq!(receipts, [first, second, third]);
    assert_eq!(mos, 1);
    let stats = next
        .wait_for_stats("kcell", WAIT, |s| s.receipts_acked == 3 && s.mo_acked == 1)
        .await
        .unwrap();
    assert_eq!((stats.receipts_pending, stats.mo_pending), (0, 0));
    next.shutdown().await;
}
