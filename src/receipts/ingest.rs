//! The receipts stage: every deliver_sm from an operator is either a delivery receipt,
//! matched to its message part and recorded, or a mobile-originated message, stored as a
//! reply event. The operator gets deliver_sm_resp as soon as that is on disk.
//!
//! A receipt can overtake its submit_sm_resp (the operator answers the submit, the receipt
//! comes on another bind, and our store write of the submission is still in flight), or name
//! an id we never stored. Such a receipt is parked in the store and answered at once; the
//! store applies it when the submit result lands. Receipts still parked after
//! `early_receipt_hold` match nothing of ours: a sweep drops them, one log line per sweep.

use super::text::{ReceiptStat, parse_receipt};
use crate::encoding::decode_short_message;
use crate::log_gate::{Repeated, note};
use crate::message::Message;
use crate::message::{Millis, State, now_ms};
use crate::metrics::Latencies;
use crate::number::normalize_any;
use crate::operator_id::id_candidates;
use crate::requests::RequestRegistry;
use crate::sessions::Incoming;
use crate::store::{Event, ReceiptLanding, Store, StoreError, receipt_outcome};
use rusmpp::pdus::DeliverSm;
use rusmpp::tlvs::TlvValue;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// esm_class message-type bits that mark a receipt (SMSC delivery receipt, intermediate
/// notification) rather than a mobile-originated message.
const RECEIPT_TYPES: [u8; 2] = [0x04, 0x20];

/// How often receipts parked past their hold are dropped.
const SWEEP_EVERY: Duration = Duration::from_secs(5);

/// Most parked receipts dropped in one store change.
const SWEEP_BATCH: usize = 10_000;

const NO_ID: Repeated = Repeated::warn("a receipt without a message id; acknowledged and ignored");
const NOT_RECORDED: Repeated =
    Repeated::warn("cannot record a receipt; the SMSC will send it again");
const MO_NOT_STORED: Repeated =
    Repeated::warn("cannot store a mobile-originated message; the SMSC will send it again");

/// A receipt as read from a deliver_sm.
#[derive(Debug, Clone)]
pub struct Receipt {
    /// The operator's message id as written (TLV `receipted_message_id`, else text `id:`).
    pub id: String,
    /// The state (TLV `message_state`, else text `stat:`).
    pub stat: ReceiptStat,
    /// The text's `err:` when not all zeros.
    pub error: Option<String>,
}

/// Reads a receipt from a deliver_sm; None if it is not one or carries no id.
pub fn read_receipt(pdu: &DeliverSm) -> Option<Receipt> {
    if !is_receipt_type(pdu) {
        return None;
    }
    let mut tlv_id = None;
    let mut tlv_state = None;
    for tlv in pdu.tlvs() {
        match tlv.value() {
            Some(TlvValue::ReceiptedMessageId(v)) => tlv_id = Some(v.to_string()),
            Some(TlvValue::MessageState(s)) => tlv_state = Some(u8::from(*s)),
            _ => {}
        }
    }
    let text = parse_receipt(&String::from_utf8_lossy(pdu.short_message().as_ref())).ok();
    let id = tlv_id
        .filter(|id| !id.trim().is_empty())
        .or_else(|| text.as_ref().map(|t| t.id.clone()))?;
    let stat = tlv_state
        .map(ReceiptStat::from_message_state)
        .or_else(|| text.as_ref().and_then(|t| t.stat.clone()))
        .unwrap_or(ReceiptStat::Unknown);
    let error = text
        .and_then(|t| t.err)
        .filter(|e| e.bytes().any(|b| b != b'0'));
    Some(Receipt { id, stat, error })
}

/// The stage's state: where receipts and replies go.
pub struct ReceiptStage {
    store: Store,
    requests: Option<Arc<RequestRegistry>>,
    latencies: Latencies,
    hold: Duration,
}

impl ReceiptStage {
    /// A stage writing to `store`, keeping receipts that match nothing yet at most `hold`.
    pub fn new(store: Store, hold: Duration, latencies: Latencies) -> Self {
        ReceiptStage {
            store,
            requests: None,
            latencies,
            hold,
        }
    }

    /// Matches replies to the open requests of `registry` and restarts a request's reply
    /// window when its delivery receipt comes.
    pub fn with_requests(mut self, registry: Arc<RequestRegistry>) -> Self {
        self.requests = Some(registry);
        self
    }

    /// Runs until the sessions are gone.
    pub async fn run(self, mut incoming: mpsc::Receiver<Incoming>) {
        let mut sweep = tokio::time::interval(SWEEP_EVERY);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                maybe = incoming.recv() => match maybe {
                    Some(pdu) => self.on_incoming(pdu),
                    None => break,
                },
                _ = sweep.tick() => self.sweep().await,
            }
        }
    }

    fn on_incoming(&self, incoming: Incoming) {
        let at = now_ms();
        match read_receipt(&incoming.pdu) {
            Some(receipt) => self.on_receipt(incoming.operator, receipt, at, incoming.stored),
            None if is_receipt_type(&incoming.pdu) => {
                let operator = &incoming.operator;
                note(&NO_ID, || tracing::warn!(%operator, "{}", NO_ID.what));
                let _ = incoming.stored.send(true);
            }
            None => self.on_mobile_originated(incoming, at),
        }
    }

    /// Records the receipt on its part, or parks it; answers once either is on disk.
    fn on_receipt(
        &self,
        operator: Arc<str>,
        receipt: Receipt,
        at: Millis,
        stored: oneshot::Sender<bool>,
    ) {
        let store = self.store.clone();
        let latencies = self.latencies.clone();
        let requests = self.requests.clone();
        tokio::spawn(async move {
            let result = record(&store, &operator, &receipt, at).await;
            match &result {
                Ok(Some(message)) => {
                    // a request's reply window starts again from its delivery
                    if let Some(requests) = &requests
                        && receipt_outcome(receipt.stat.as_str()) == Some(State::Delivered)
                    {
                        crate::requests::hooks::on_delivered(requests, message, at).await;
                    }
                    latencies.receipt(message, at);
                }
                Ok(None) => {} // parked
                Err(e) => note(
                    &NOT_RECORDED,
                    || tracing::error!(%operator, error = %e, "{}", NOT_RECORDED.what),
                ),
            }
            let _ = stored.send(result.is_ok());
        });
    }

    /// Drops the receipts parked longer than the hold; says how many in one line.
    async fn sweep(&self) {
        let before = now_ms() - crate::message::millis(self.hold);
        let mut by_operator = std::collections::BTreeMap::<String, u64>::new();
        loop {
            match self.store.drop_parked_receipts(before, SWEEP_BATCH).await {
                Ok(dropped) => {
                    for (operator, n) in dropped.by_operator.iter() {
                        *by_operator.entry(operator.clone()).or_default() += n;
                    }
                    if !dropped.more {
                        break;
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot drop receipts that matched nothing");
                    break;
                }
            }
        }
        let total: u64 = by_operator.values().sum();
        if total > 0 {
            let hold_s = self.hold.as_secs();
            tracing::warn!(
                total,
                operators = ?by_operator,
                "{total} receipts matched no message of ours within {hold_s} s (early_receipt_hold) and were dropped"
            );
        }
    }

    fn on_mobile_originated(&self, incoming: Incoming, at: Millis) {
        let pdu = &incoming.pdu;
        let udh = u8::from(pdu.esm_class) & 0x40 != 0;
        // a long MO may carry its text in message_payload instead of short_message
        let payload = pdu.tlvs().iter().find_map(|tlv| match tlv.value() {
            Some(TlvValue::MessagePayload(p)) => Some(p.value.as_ref()),
            _ => None,
        });
        let octets = match payload {
            Some(payload) if pdu.short_message().as_ref().is_empty() => payload,
            _ => pdu.short_message().as_ref(),
        };
        let text = decode_short_message(u8::from(pdu.data_coding), octets, udh);
        let raw_from = pdu.source_addr.to_string();
        let from = normalize_any(&raw_from)
            .map(|n| n.as_str().to_owned())
            .unwrap_or(raw_from);
        let store = self.store.clone();
        let requests = self.requests.clone();
        tokio::spawn(async move {
            let matched = match &requests {
                Some(requests) => {
                    crate::requests::hooks::on_reply(requests, &store, &from, &text, at).await
                }
                None => crate::requests::hooks::MatchedReply {
                    id: None,
                    reference: None,
                    class: crate::replies::classify(&text),
                },
            };
            let event = Event::Reply {
                id: matched.id,
                reference: matched.reference,
                class: Some(matched.class),
                from,
                text,
                at,
            };
            let result = store.append_event(event).await;
            if let Err(e) = &result {
                note(
                    &MO_NOT_STORED,
                    || tracing::error!(error = %e, "{}", MO_NOT_STORED.what),
                );
            }
            let _ = incoming.stored.send(result.is_ok());
        });
    }
}

fn is_receipt_type(pdu: &DeliverSm) -> bool {
    RECEIPT_TYPES.contains(&(u8::from(pdu.esm_class) & 0x3c))
}

/// Records a receipt on the part its id names, or parks it when no part has that id yet
/// (see [`Store::record_or_park_receipt`]). The message as it now is when recorded, None when
/// parked (or when its id is blank and can match nothing).
async fn record(
    store: &Store,
    operator: &str,
    receipt: &Receipt,
    at: Millis,
) -> Result<Option<Message>, StoreError> {
    let candidates = id_candidates(&receipt.id);
    if candidates.is_empty() {
        return Ok(None);
    }
    let stat = receipt.stat.as_str();
    let error = receipt.error.as_deref();
    match store
        .record_or_park_receipt(operator, candidates, stat, error, at)
        .await?
    {
        ReceiptLanding::Recorded { message, .. } => Ok(Some(*message)),
        ReceiptLanding::Parked => Ok(None),
    }
}
