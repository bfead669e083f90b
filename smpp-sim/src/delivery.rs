//! Outbound deliver_sm (receipts and mobile-originated messages) of one operator.
//!
//! Items wait in a timer queue until due, then in a ready queue until a receiver bind pulls them
//! (each bind pulls while it has room in its window). A bind that closes hands its
//! unacknowledged items back, so nothing is lost while no receiver is bound.
//!
//! When the simulator stops, the timer task parks what it still holds instead of dropping it,
//! and [`Delivery::take_owed`] hands every item still owed out as an [`OwedDeliver`], which
//! [`Delivery::restore`] puts back (ready at once) in a simulator started later.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use rusmpp::decode::DecodeWithLength;
use rusmpp::encode::{Encode, Length};
use rusmpp::pdus::DeliverSm;
use rusmpp::types::OctetString;
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, mpsc};
use tracing::warn;

use crate::receipt::{self, ReceiptJob};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tokio_util::time::DelayQueue;

/// Whether an outbound item is a receipt or a mobile-originated message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Receipt,
    Mo,
}

/// What an owed deliver_sm carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OwedKind {
    /// A delivery receipt (esm_class 0x04).
    Receipt,
    /// A mobile-originated message (a simulated subscriber's reply or an injected MO).
    Mo,
}

impl From<Kind> for OwedKind {
    fn from(kind: Kind) -> Self {
        match kind {
            Kind::Receipt => Self::Receipt,
            Kind::Mo => Self::Mo,
        }
    }
}

impl From<OwedKind> for Kind {
    fn from(kind: OwedKind) -> Self {
        match kind {
            OwedKind::Receipt => Self::Receipt,
            OwedKind::Mo => Self::Mo,
        }
    }
}

/// One deliver_sm an operator still owed its ESME when the simulator stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwedDeliver {
    /// Receipt or mobile-originated message.
    pub kind: OwedKind,
    /// The deliver_sm body (what follows the 16-octet header), as the simulator writes it;
    /// hexadecimal when serialized. A receipt's text ends with an empty `text:` (see
    /// [`OwedDeliveries`]).
    #[serde(with = "hex_octets")]
    pub body: Vec<u8>,
}

/// Every deliver_sm one operator still owed its ESME when the simulator stopped
/// ([`SimHandle::shutdown_and_take_pending`](crate::SimHandle::shutdown_and_take_pending)):
/// receipts and MO not yet due, ready but not sent, and sent but not acknowledged by a bind
/// that closed. Give them to a simulator started later with
/// [`SimHandle::restore_pending`](crate::SimHandle::restore_pending); operator message ids are
/// unique across restarts, so the receipts still match.
///
/// Receipts leave the simulator without the excerpt of the message in their text (`text:` is
/// empty): that excerpt is the first 20 characters of the SMS, which for a one-time password
/// is the code, and these items are meant to be written to disk. Receipts not yet due are
/// built here with their `done date` no later than the shutdown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwedDeliveries {
    /// The operator's name.
    pub operator: String,
    /// Its deliver_sm, in the order it would have sent them.
    pub items: Vec<OwedDeliver>,
}

impl OwedDeliveries {
    /// How many of the items are receipts.
    pub fn receipts(&self) -> usize {
        (self.items.iter())
            .filter(|i| i.kind == OwedKind::Receipt)
            .count()
    }

    /// How many of the items are mobile-originated messages.
    pub fn mos(&self) -> usize {
        self.items.len() - self.receipts()
    }
}

impl OwedDeliver {
    /// Owes `body` of `kind`, without a receipt's text excerpt.
    fn new(kind: Kind, body: &[u8]) -> Result<Self, String> {
        let body = match kind {
            Kind::Receipt => without_excerpt(body)?,
            Kind::Mo => body.to_vec(),
        };
        Ok(Self {
            kind: kind.into(),
            body,
        })
    }

    /// The item to queue again, once its body is checked to be one whole deliver_sm; else
    /// the item back with the reason.
    pub(crate) fn into_outbound(self) -> Result<Outbound, (Self, String)> {
        match decode_deliver(&self.body) {
            Ok(_) => Ok(Outbound::raw(self.kind.into(), Bytes::from(self.body))),
            Err(e) => Err((self, e)),
        }
    }
}

/// Decodes a deliver_sm body that must be exactly one deliver_sm.
fn decode_deliver(body: &[u8]) -> Result<DeliverSm, String> {
    let mut src = BytesMut::from(body);
    let (sm, size) = DeliverSm::decode(&mut src, body.len())
        .map_err(|e| format!("not a deliver_sm body: {e}"))?;
    if size != body.len() {
        return Err(format!(
            "not a deliver_sm body: {size} of {} octets decoded",
            body.len()
        ));
    }
    Ok(sm)
}

/// A receipt's body with its text cut just after `text:` (the receipts this simulator writes
/// end with that field); a text without it is left as it is.
fn without_excerpt(body: &[u8]) -> Result<Vec<u8>, String> {
    let mut sm = decode_deliver(body)?;
    let text = sm.short_message().as_ref();
    const FIELD: &[u8] = b" text:";
    let Some(at) = text.windows(FIELD.len()).position(|w| w == FIELD) else {
        return Ok(body.to_vec());
    };
    let kept = text[..at + FIELD.len()].to_vec();
    let kept = OctetString::from_vec(kept).map_err(|e| format!("receipt text: {e:?}"))?;
    sm.set_short_message(kept);
    Ok(encode(&sm).to_vec())
}

/// Encodes a deliver_sm body.
fn encode(pdu: &DeliverSm) -> Bytes {
    let mut body = vec![0u8; pdu.length()];
    let written = pdu.encode(&mut body);
    body.truncate(written);
    Bytes::from(body)
}

/// Octets as a lowercase hexadecimal string, for serde.
mod hex_octets {
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(octets: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        use std::fmt::Write;
        let mut text = String::with_capacity(octets.len() * 2);
        for octet in octets {
            let _ = write!(text, "{octet:02x}");
        }
        serializer.serialize_str(&text)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text.len() % 2 != 0 {
            return Err(D::Error::custom("odd number of hexadecimal digits"));
        }
        (0..text.len())
            .step_by(2)
            .map(|i| {
                text.get(i..i + 2)
                    .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                    .ok_or_else(|| D::Error::custom("not hexadecimal"))
            })
            .collect()
    }
}

/// One deliver_sm waiting to be sent, its body already encoded (sending it again costs a
/// reference count, not an encode).
#[derive(Debug, Clone)]
pub(crate) struct Outbound {
    pub kind: Kind,
    pub body: Bytes,
    pub refusals: u32,
    /// Notified each time this deliver_sm has been written (a submit_sm_resp held until its
    /// receipt went out waits on it).
    pub written: Option<Arc<Notify>>,
}

impl Outbound {
    /// Encodes `pdu` once.
    pub fn new(kind: Kind, pdu: &DeliverSm) -> Self {
        Self::raw(kind, encode(pdu))
    }

    /// A deliver_sm whose body is already encoded.
    pub fn raw(kind: Kind, body: Bytes) -> Self {
        Self {
            kind,
            body,
            refusals: 0,
            written: None,
        }
    }
}

/// Something to deliver later: a finished deliver_sm, or a receipt still to be written (built
/// on the timer task, off the connection's hot path).
#[derive(Debug)]
pub(crate) enum Pending {
    Ready(Outbound),
    Receipt {
        job: Box<ReceiptJob>,
        /// Whether it carries the receipted_message_id TLV.
        receipted_id: bool,
        /// Notified when it has been written.
        written: Option<Arc<Notify>>,
    },
}

impl Pending {
    /// What is owed for this item at shutdown; a receipt not yet built is built now, without
    /// its text excerpt and with its `done date` no later than `now`.
    fn into_owed(self, now: SystemTime) -> Result<OwedDeliver, String> {
        match self {
            Self::Ready(item) => OwedDeliver::new(item.kind, &item.body),
            Self::Receipt {
                job, receipted_id, ..
            } => {
                let job = ReceiptJob {
                    payload: Bytes::new(),
                    done: job.done.min(now),
                    ..*job
                };
                let pdu = receipt::build(&job, receipted_id)?;
                Ok(OwedDeliver {
                    kind: OwedKind::Receipt,
                    body: encode(&pdu).to_vec(),
                })
            }
        }
    }

    fn into_outbound(self) -> Option<Outbound> {
        match self {
            Self::Ready(item) => Some(item),
            Self::Receipt {
                job,
                receipted_id,
                written,
            } => match receipt::build(&job, receipted_id) {
                Ok(pdu) => Some(Outbound {
                    written,
                    ..Outbound::new(Kind::Receipt, &pdu)
                }),
                Err(e) => {
                    warn!(error = %e, "cannot build a receipt");
                    None
                }
            },
        }
    }
}

/// The queues of one operator.
#[derive(Debug)]
pub(crate) struct Delivery {
    ready: Mutex<VecDeque<Outbound>>,
    notify: Notify,
    timers: mpsc::UnboundedSender<(Pending, Instant)>,
    /// What the timer task still held when it stopped, and what was scheduled after that,
    /// with when each was due: owed, for [`Delivery::take_owed`].
    parked: Mutex<Vec<(Pending, Instant)>>,
}

impl Delivery {
    /// Creates the queues and starts the timer task (it stops on `stop`, parking what it
    /// still holds).
    pub fn start(tracker: &TaskTracker, stop: CancellationToken) -> Arc<Self> {
        let (timers, rx) = mpsc::unbounded_channel();
        let delivery = Arc::new(Self {
            ready: Mutex::new(VecDeque::new()),
            notify: Notify::new(),
            timers,
            parked: Mutex::new(Vec::new()),
        });
        tracker.spawn(run_timers(Arc::downgrade(&delivery), rx, stop));
        delivery
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<Outbound>> {
        self.ready.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn park(&self, items: impl IntoIterator<Item = (Pending, Instant)>) {
        (self.parked.lock().unwrap_or_else(|p| p.into_inner())).extend(items);
    }

    /// Queues `item` to become ready after `delay` (parked, still owed, once the timer task
    /// has stopped).
    pub fn schedule(&self, item: Pending, delay: Duration) {
        if let Err(mpsc::error::SendError(late)) = self.timers.send((item, Instant::now() + delay))
        {
            self.park([late]);
        }
    }

    /// Takes every item still owed, for when the simulator has stopped (the timer task has
    /// ended and the binds have closed and given back what they held): the ready queue in its
    /// order (what closed binds gave back at its head), then the timer queue's items by when
    /// they were due. See [`OwedDeliveries`] for what a receipt keeps of its text. An item
    /// whose body does not decode is logged and left out (it could not be checked for a
    /// code); the simulator only holds bodies it encoded itself.
    pub fn take_owed(&self) -> Vec<OwedDeliver> {
        let ready: Vec<Outbound> = self.lock().drain(..).collect();
        let mut parked =
            std::mem::take(&mut *self.parked.lock().unwrap_or_else(|p| p.into_inner()));
        parked.sort_by_key(|(_, due)| *due);
        let now = SystemTime::now();
        let owed = (ready.into_iter())
            .map(|item| OwedDeliver::new(item.kind, &item.body))
            .chain(parked.into_iter().map(|(item, _)| item.into_owed(now)));
        owed.filter_map(|item| {
            item.inspect_err(|e| warn!(error = %e, "an owed deliver_sm is left out"))
                .ok()
        })
        .collect()
    }

    /// Puts items owed before a restart in the ready queue (behind what is already there):
    /// they are sent as soon as a receiver is bound.
    pub fn restore(&self, items: Vec<Outbound>) {
        if items.is_empty() {
            return;
        }
        self.lock().extend(items);
        self.notify.notify_one();
    }

    /// Makes `item` ready for the next receiver.
    pub fn push_ready(&self, item: Outbound) {
        self.lock().push_back(item);
        self.notify.notify_one();
    }

    /// Puts items a closed bind never got acknowledged back at the head of the queue.
    pub fn give_back(&self, items: Vec<Outbound>) {
        if items.is_empty() {
            return;
        }
        let mut ready = self.lock();
        for item in items.into_iter().rev() {
            ready.push_front(item);
        }
        drop(ready);
        self.notify.notify_one();
    }

    /// Takes up to `max` ready items; wakes another receiver if some are left.
    pub fn take(&self, max: usize) -> Vec<Outbound> {
        let mut ready = self.lock();
        let n = max.min(ready.len());
        let items: Vec<Outbound> = ready.drain(..n).collect();
        let more = !ready.is_empty();
        drop(ready);
        if more && !items.is_empty() {
            self.notify.notify_one();
        }
        items
    }

    /// Resolves when items may have become ready.
    pub async fn ready(&self) {
        self.notify.notified().await
    }
}

async fn run_timers(
    delivery: std::sync::Weak<Delivery>,
    mut rx: mpsc::UnboundedReceiver<(Pending, Instant)>,
    stop: CancellationToken,
) {
    let mut queue: DelayQueue<Pending> = DelayQueue::new();
    let ready = |item: Pending| {
        let Some(delivery) = delivery.upgrade() else {
            return false;
        };
        if let Some(item) = item.into_outbound() {
            delivery.push_ready(item);
        }
        true
    };
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            received = rx.recv() => match received {
                Some((item, at)) if at <= Instant::now() => {
                    if !ready(item) {
                        return;
                    }
                }
                Some((item, at)) => {
                    queue.insert_at(item, at.into());
                }
                None => return,
            },
            Some(expired) = queue.next(), if !queue.is_empty() => {
                if !ready(expired.into_inner()) {
                    return;
                }
            }
        }
    }
    // Stopping: what is still queued is owed, not dropped. Closing the channel first makes
    // every later `schedule` park its item itself; what was sent before is still in it.
    rx.close();
    let mut owed = Vec::with_capacity(queue.len());
    while let Some(key) = queue.peek() {
        let Some(expired) = queue.try_remove(&key) else {
            break;
        };
        let due = expired.deadline().into_std();
        owed.push((expired.into_inner(), due));
    }
    if !queue.is_empty() {
        warn!(
            left = queue.len(),
            "owed deliver_sm could not be taken from the timer queue"
        );
    }
    while let Ok(received) = rx.try_recv() {
        owed.push(received);
    }
    if let Some(delivery) = delivery.upgrade() {
        delivery.park(owed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::receipt::FinalState;
    use crate::text::Coding;

    fn item() -> Outbound {
        Outbound::new(Kind::Mo, &DeliverSm::default())
    }

    /// An OTP's receipt job: its text excerpt would hold `code`.
    fn otp_job(id: &str, code: &str, after: Duration) -> ReceiptJob {
        let now = SystemTime::now();
        ReceiptJob {
            message_id: id.to_owned(),
            source: "eGov".to_owned(),
            destination: "77011234567".to_owned(),
            state: FinalState::Delivered,
            submitted: now,
            done: now + after,
            payload: Bytes::from(format!("Code {code}")),
            coding: Coding::Ascii,
        }
    }

    fn pending_receipt(id: &str, code: &str, after: Duration) -> Pending {
        Pending::Receipt {
            job: Box::new(otp_job(id, code, after)),
            receipted_id: true,
            written: None,
        }
    }

    fn built_receipt(id: &str, code: &str) -> Outbound {
        let pdu = receipt::build(&otp_job(id, code, Duration::ZERO), true).unwrap();
        Outbound::new(Kind::Receipt, &pdu)
    }

    fn mo(text: &str) -> Outbound {
        let pdu = crate::mo::build("77011234567", "1414", text, 1).unwrap();
        Outbound::new(Kind::Mo, &pdu[0])
    }

    fn text_of(body: &[u8]) -> String {
        let sm = decode_deliver(body).unwrap();
        String::from_utf8_lossy(sm.short_message().as_ref()).into_owned()
    }

    #[tokio::test]
    async fn scheduled_items_become_ready_and_given_back_ones_come_first() {
        let tracker = TaskTracker::new();
        let stop = CancellationToken::new();
        let d = Delivery::start(&tracker, stop.clone());
        d.schedule(Pending::Ready(item()), Duration::from_millis(20));
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut got = Vec::new();
        while got.is_empty() && Instant::now() < deadline {
            let _ = tokio::time::timeout(Duration::from_millis(100), d.ready()).await;
            got = d.take(10);
        }
        assert_eq!(got.len(), 1);
        let mut back = item();
        back.refusals = 7;
        d.push_ready(item());
        d.give_back(vec![back]);
        assert_eq!(d.take(1)[0].refusals, 7);
        stop.cancel();
        tracker.close();
        tracker.wait().await;
    }

    #[tokio::test]
    async fn a_stop_keeps_everything_owed_in_order_and_receipts_without_their_codes() {
        let tracker = TaskTracker::new();
        let stop = CancellationToken::new();
        let d = Delivery::start(&tracker, stop.clone());
        let hour = Duration::from_secs(3600);
        d.schedule(Pending::Ready(mo("in two hours")), 2 * hour);
        d.schedule(pending_receipt("0a03", "333333", hour), hour);
        // the timer task (this runtime's only other task) takes both into its queue
        tokio::task::yield_now().await;
        // this one may still be in the channel when the task stops
        d.schedule(pending_receipt("0a04", "444444", hour / 2), hour / 2);
        d.push_ready(built_receipt("0a02", "222222"));
        // what a closing bind had sent without an answer goes to the head
        d.give_back(vec![built_receipt("0a01", "111111")]);
        stop.cancel();
        tracker.close();
        tracker.wait().await;
        // the timer task has ended: a late item is parked, not dropped
        d.schedule(Pending::Ready(mo("late")), Duration::ZERO);

        let owed = d.take_owed();
        let texts: Vec<String> = owed.iter().map(|o| text_of(&o.body)).collect();
        let kinds: Vec<OwedKind> = owed.iter().map(|o| o.kind).collect();
        use OwedKind::{Mo, Receipt};
        assert_eq!(
            kinds,
            [Receipt, Receipt, Mo, Receipt, Receipt, Mo],
            "{texts:?}"
        );
        for (n, id) in [(0, "0a01"), (1, "0a02"), (3, "0a04"), (4, "0a03")] {
            assert!(texts[n].starts_with(&format!("id:{id} ")), "{}", texts[n]);
            assert!(
                texts[n].ends_with(" stat:DELIVRD err:000 text:"),
                "{}",
                texts[n]
            );
        }
        let json = serde_json::to_string(&owed).unwrap();
        for code in ["111111", "222222", "333333", "444444"] {
            assert!(!texts.concat().contains(code) && !json.contains(code));
        }
        assert!(d.take_owed().is_empty(), "handed out once");
    }

    #[tokio::test]
    async fn a_receipt_not_yet_due_is_done_at_the_latest_when_it_is_taken() {
        let tracker = TaskTracker::new();
        let stop = CancellationToken::new();
        let d = Delivery::start(&tracker, stop.clone());
        let year = Duration::from_secs(365 * 24 * 3600);
        d.schedule(pending_receipt("0b01", "123456", year), year);
        stop.cancel();
        tracker.close();
        tracker.wait().await;
        let owed = d.take_owed();
        let text = text_of(&owed[0].body);
        let now = receipt::receipt_text(
            "x",
            FinalState::Delivered,
            chrono::Local::now(),
            chrono::Local::now(),
            "",
        );
        let done = |t: &str| t.split(" done date:").nth(1).unwrap()[..10].to_owned();
        assert!(done(&text) <= done(&now), "{text}");
    }

    #[tokio::test]
    async fn owed_items_survive_json_and_are_ready_at_once_in_a_new_queue() {
        let owed = OwedDeliveries {
            operator: "kcell".to_owned(),
            items: vec![
                OwedDeliver::new(Kind::Receipt, &built_receipt("0c01", "987654").body).unwrap(),
                OwedDeliver::new(Kind::Mo, &mo("Иә").body).unwrap(),
            ],
        };
        assert_eq!((owed.receipts(), owed.mos()), (1, 1));
        let json = serde_json::to_string(&owed).unwrap();
        assert!(json.contains(r#""kind":"receipt""#) && json.contains(r#""kind":"mo""#));
        let back: OwedDeliveries = serde_json::from_str(&json).unwrap();
        assert_eq!(back, owed);

        let tracker = TaskTracker::new();
        let stop = CancellationToken::new();
        let d = Delivery::start(&tracker, stop.clone());
        let items = back.items.into_iter().map(|i| i.into_outbound().unwrap());
        d.restore(items.collect());
        let ready = d.take(10);
        let bodies: Vec<&[u8]> = ready.iter().map(|o| &o.body[..]).collect();
        let expected: Vec<&[u8]> = owed.items.iter().map(|o| &o.body[..]).collect();
        assert_eq!(bodies, expected);
        assert_eq!(ready[0].kind, Kind::Receipt);

        let broken = OwedDeliver {
            kind: OwedKind::Mo,
            body: vec![1, 2, 3],
        };
        assert!(broken.into_outbound().is_err());
        assert!(serde_json::from_str::<OwedDeliver>(r#"{"kind":"mo","body":"0g"}"#).is_err());
        stop.cancel();
        tracker.close();
        tracker.wait().await;
    }
}
