//! Outbound deliver_sm (receipts and mobile-originated messages) of one operator.
//!
//! Items wait in a timer queue until due, then in a ready queue until a receiver bind pulls them
//! (each bind pulls while it has room in its window). A bind that closes hands its
//! unacknowledged items back, so nothing is lost while no receiver is bound.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use rusmpp::encode::{Encode, Length};
use rusmpp::pdus::DeliverSm;
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
        let mut body = vec![0u8; pdu.length()];
        let written = pdu.encode(&mut body);
        body.truncate(written);
        Self::raw(kind, Bytes::from(body))
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
}

impl Delivery {
    /// Creates the queues and starts the timer task (it stops on `stop`).
    pub fn start(tracker: &TaskTracker, stop: CancellationToken) -> Arc<Self> {
        let (timers, rx) = mpsc::unbounded_channel();
        let delivery = Arc::new(Self {
            ready: Mutex::new(VecDeque::new()),
            notify: Notify::new(),
            timers,
        });
        tracker.spawn(run_timers(Arc::downgrade(&delivery), rx, stop));
        delivery
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<Outbound>> {
        self.ready.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `item` to become ready after `delay` (dropped if the simulator is stopping).
    pub fn schedule(&self, item: Pending, delay: Duration) {
        let _ = self.timers.send((item, Instant::now() + delay));
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
                        break;
                    }
                }
                Some((item, at)) => {
                    queue.insert_at(item, at.into());
                }
                None => break,
            },
            Some(expired) = queue.next(), if !queue.is_empty() => {
                if !ready(expired.into_inner()) {
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item() -> Outbound {
        Outbound::new(Kind::Mo, &DeliverSm::default())
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
}
