//! The receipts stage: every deliver_sm from an operator is either a delivery receipt,
//! matched to its message part and recorded, or a mobile-originated message, stored as a
//! reply event. The operator gets deliver_sm_resp only once that is on disk.
//!
//! A receipt can overtake its submit_sm_resp (the operator answers the submit, the receipt
//! comes on another bind, and our store write of the submission is still in flight). Such
//! receipts are held, unanswered, until the sending stage reports the submission.

use super::text::{ReceiptStat, id_candidates, parse_receipt};
use crate::encoding::decode_short_message;
use crate::message::{Millis, State, now_ms};
use crate::metrics::Latencies;
use crate::number::normalize_any;
use crate::requests::RequestRegistry;
use crate::sending::Submitted;
use crate::sessions::Incoming;
use crate::store::{Event, Store, receipt_outcome};
use rusmpp::pdus::DeliverSm;
use rusmpp::tlvs::TlvValue;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// esm_class message-type bits that mark a receipt (SMSC delivery receipt, intermediate
/// notification) rather than a mobile-originated message.
const RECEIPT_TYPES: [u8; 2] = [0x04, 0x20];

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

struct Held {
    operator: Arc<str>,
    receipt: Receipt,
    at: Millis,
    since: Instant,
    stored: oneshot::Sender<bool>,
    keys: Vec<String>,
}

/// The stage's state: the store and receipts waiting for their submission.
pub struct ReceiptStage {
    store: Store,
    requests: Option<Arc<RequestRegistry>>,
    latencies: Latencies,
    hold: Duration,
    held: HashMap<u64, Held>,
    by_id: HashMap<(Arc<str>, String), u64>,
    next: u64,
}

impl ReceiptStage {
    /// A stage writing to `store`, holding early receipts at most `hold`.
    pub fn new(store: Store, hold: Duration, latencies: Latencies) -> Self {
        ReceiptStage {
            store,
            requests: None,
            latencies,
            hold,
            held: HashMap::new(),
            by_id: HashMap::new(),
            next: 0,
        }
    }

    /// Matches replies to the open requests of `registry` and restarts a request's reply
    /// window when its delivery receipt comes.
    pub fn with_requests(mut self, registry: Arc<RequestRegistry>) -> Self {
        self.requests = Some(registry);
        self
    }

    /// Runs until the sessions are gone.
    pub async fn run(
        mut self,
        mut incoming: mpsc::Receiver<Incoming>,
        mut submitted: mpsc::UnboundedReceiver<Submitted>,
    ) {
        let mut sweep = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                biased;
                Some(notice) = submitted.recv() => self.on_submitted(notice),
                maybe = incoming.recv() => match maybe {
                    Some(pdu) => self.on_incoming(pdu),
                    None => break,
                },
                _ = sweep.tick() => self.sweep(),
            }
        }
        for (_, held) in self.held.drain() {
            let _ = held.stored.send(false);
        }
    }

    fn on_incoming(&mut self, incoming: Incoming) {
        let at = now_ms();
        match read_receipt(&incoming.pdu) {
            Some(receipt) => self.on_receipt(incoming.operator, receipt, at, incoming.stored),
            None if is_receipt_type(&incoming.pdu) => {
                tracing::warn!(operator = %incoming.operator, "a receipt without a message id; acknowledged and ignored");
                let _ = incoming.stored.send(true);
            }
            None => self.on_mobile_originated(incoming, at),
        }
    }

    fn on_receipt(
        &mut self,
        operator: Arc<str>,
        receipt: Receipt,
        at: Millis,
        stored: oneshot::Sender<bool>,
    ) {
        let keys = id_candidates(&receipt.id);
        for key in &keys {
            match self.store.find_by_operator_id(&operator, key) {
                Ok(Some((id, part))) => {
                    self.record(id, part, receipt, at, stored);
                    return;
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::error!(error = %e, "cannot look up a receipt's message");
                    let _ = stored.send(false);
                    return;
                }
            }
        }
        let slot = self.next;
        self.next += 1;
        for key in &keys {
            self.by_id.insert((operator.clone(), key.clone()), slot);
        }
        let since = Instant::now();
        let held = Held {
            operator,
            receipt,
            at,
            since,
            stored,
            keys,
        };
        self.held.insert(slot, held);
    }

    fn record(
        &self,
        id: crate::message::MessageId,
        part: u32,
        receipt: Receipt,
        at: Millis,
        stored: oneshot::Sender<bool>,
    ) {
        let store = self.store.clone();
        let latencies = self.latencies.clone();
        let requests = self.requests.clone();
        tokio::spawn(async move {
            let result = store
                .record_receipt(
                    id,
                    part,
                    receipt.stat.as_str(),
                    receipt.error.as_deref(),
                    at,
                )
                .await;
            // a request's reply window starts again from its delivery
            if let (Some(requests), Ok(message)) = (&requests, &result)
                && receipt_outcome(receipt.stat.as_str()) == Some(State::Delivered)
            {
                crate::requests::hooks::on_delivered(requests, message, at).await;
            }
            match &result {
                Ok(message) => latencies.receipt(message, at),
                Err(e) => tracing::error!(%id, error = %e, "cannot record a receipt"),
            }
            let _ = stored.send(result.is_ok());
        });
    }

    /// The sending stage recorded a submission: match receipts that came before it.
    fn on_submitted(&mut self, notice: Submitted) {
        if self.held.is_empty() {
            return;
        }
        for id in notice.ids {
            if let Some(slot) = self.by_id.get(&(notice.operator.clone(), id)).copied()
                && let Some(held) = self.take(slot)
            {
                self.on_receipt(held.operator, held.receipt, held.at, held.stored);
            }
        }
    }

    fn take(&mut self, slot: u64) -> Option<Held> {
        let held = self.held.remove(&slot)?;
        for key in &held.keys {
            self.by_id.remove(&(held.operator.clone(), key.clone()));
        }
        Some(held)
    }

    /// Receipts held too long match nothing of ours: acknowledge them so the operator stops.
    fn sweep(&mut self) {
        let expired: Vec<u64> = self
            .held
            .iter()
            .filter(|(_, h)| h.since.elapsed() > self.hold)
            .map(|(slot, _)| *slot)
            .collect();
        for slot in expired {
            if let Some(held) = self.take(slot) {
                tracing::warn!(operator = %held.operator, operator_id = %held.receipt.id, "a receipt for no known message; acknowledged and dropped");
                let _ = held.stored.send(true);
            }
        }
    }

    fn on_mobile_originated(&self, incoming: Incoming, at: Millis) {
        let pdu = &incoming.pdu;
        let udh = u8::from(pdu.esm_class) & 0x40 != 0;
        let text =
            decode_short_message(u8::from(pdu.data_coding), pdu.short_message().as_ref(), udh);
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
                tracing::error!(error = %e, "cannot store a mobile-originated message");
            }
            let _ = incoming.stored.send(result.is_ok());
        });
    }
}

fn is_receipt_type(pdu: &DeliverSm) -> bool {
    RECEIPT_TYPES.contains(&(u8::from(pdu.esm_class) & 0x3c))
}
