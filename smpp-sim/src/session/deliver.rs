//! deliver_sm to the ESME (receipts and MO): the window, the answers, the answer timer, and
//! re-sending what was refused or never answered.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use rusmpp::{CommandId, CommandStatus};
use tokio_util::time::delay_queue;

use super::Session;
use super::writer::{Note, Outgoing};
use crate::codec::OutFrame;
use crate::config::ReceiptConfig;
use crate::delivery::{Kind, Outbound, Pending};
use crate::inject;
use crate::stats::Counters;

/// Sequence numbers of re-sent deliver_sm remembered per connection, for late answers.
const MAX_RESENT: usize = 10_000;

/// The receipt settings a session applies to its deliver_sm.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Timing {
    window: usize,
    max_refusals: u32,
    retry_delay: Duration,
    response_timeout: Duration,
    late_answer: Duration,
}

impl From<&ReceiptConfig> for Timing {
    fn from(config: &ReceiptConfig) -> Self {
        Self {
            window: config.window,
            max_refusals: config.max_attempts,
            retry_delay: Duration::from_millis(config.retry_delay_ms),
            response_timeout: Duration::from_millis(config.response_timeout_ms),
            late_answer: Duration::from_millis(config.late_answer_ms),
        }
    }
}

/// A deliver_sm written (or queued for writing) and not yet answered.
#[derive(Debug)]
pub(super) struct InFlight {
    pub item: Outbound,
    /// When the writer flushed it.
    written: Option<Instant>,
    /// Its answer timer, armed once written.
    timer: Option<delay_queue::Key>,
}

/// deliver_sm re-sent because their answer did not come in time: sequence number and write
/// time, so a late answer is still measured (and otherwise ignored).
#[derive(Debug, Default)]
pub(super) struct Resent {
    written: HashMap<u32, Option<Instant>>,
    order: VecDeque<u32>,
}

impl Resent {
    fn insert(&mut self, sequence: u32, written: Option<Instant>) {
        if self.written.insert(sequence, written).is_none() {
            self.order.push_back(sequence);
        }
        while self.order.len() > MAX_RESENT {
            if let Some(old) = self.order.pop_front() {
                self.written.remove(&old);
            }
        }
    }

    fn take(&mut self, sequence: u32) -> Option<Option<Instant>> {
        self.written.remove(&sequence)
    }
}

impl Session {
    /// Whether this session can take more deliver_sm now (not once the SMSC sent unbind).
    pub(super) fn can_pull(&self) -> bool {
        self.bound.is_some_and(|k| k.receives())
            && self.unbind.is_none()
            && self.outstanding.len() < self.timing.window
    }

    /// Sends ready receipts and MO while the window has room (nothing while hanging or
    /// paused: they wait in the operator's queue).
    pub(super) async fn pull(&mut self) {
        if !self.can_pull()
            || self.faults.hang_remaining().is_some()
            || self.faults.pause_remaining().is_some()
        {
            return;
        }
        let room = self.timing.window - self.outstanding.len();
        for item in self.op.delivery.take(room) {
            self.send_deliver(item).await;
        }
    }

    /// Writes one deliver_sm with a fresh sequence number and tracks it; returns the number.
    async fn send_deliver(&mut self, item: Outbound) -> u32 {
        let sequence = self.fresh_sequence();
        Counters::bump(match item.kind {
            Kind::Receipt => &self.op.counters.receipts_sent,
            Kind::Mo => &self.op.counters.mo_sent,
        });
        let frame = OutFrame::Raw {
            command_id: u32::from(CommandId::DeliverSm),
            status: 0,
            sequence_number: sequence,
            body: item.body.clone(),
        };
        let note = Note::Deliver {
            sequence,
            signal: item.written.clone(),
        };
        self.outstanding.insert(
            sequence,
            InFlight {
                item,
                written: None,
                timer: None,
            },
        );
        self.send_out(Outgoing::Noted(frame, note)).await;
        sequence
    }

    /// Sends this connection a large mobile-originated deliver_sm of exactly `octets` octets at
    /// once (even with the window full; it then takes a place in it) and tracks it like any
    /// other MO; returns its sequence number.
    pub(super) async fn send_large(&mut self, octets: usize) -> u32 {
        Counters::bump(&self.op.counters.mo_scheduled);
        Counters::bump(&self.op.counters.large_sent);
        let item = Outbound::raw(Kind::Mo, inject::large_deliver_body(octets));
        self.send_deliver(item).await
    }

    /// The writer flushed deliver_sm `sequence` at `at`: its answer timer starts.
    pub(super) fn written(&mut self, sequence: u32, at: Instant) {
        if let Some(flight) = self.outstanding.get_mut(&sequence)
            && flight.written.is_none()
        {
            flight.written = Some(at);
            let due = at + self.timing.response_timeout;
            flight.timer = Some(self.timers.insert_at(sequence, due.into()));
        }
    }

    /// No answer to deliver_sm `sequence` in time: counted once, and sent again.
    pub(super) async fn unanswered(&mut self, sequence: u32) {
        let Some(flight) = self.outstanding.remove(&sequence) else {
            return;
        };
        Counters::bump(&self.op.counters.deliver_unanswered);
        self.resent.insert(sequence, flight.written);
        self.op.delivery.give_back(vec![flight.item]);
        self.pull().await;
    }

    /// Measures an answer `elapsed` after its deliver_sm was written; `late` when it is late
    /// whatever the time (its deliver_sm was already given up and re-sent).
    fn answer_took(&self, elapsed: Duration, late: bool) {
        let counters = &self.op.counters;
        let millis = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        counters.deliver_answer_max_ms.fetch_max(millis, Relaxed);
        if late || elapsed > self.timing.late_answer {
            Counters::bump(&counters.deliver_answered_late);
        }
    }

    /// deliver_sm_resp (or generic_nack) for one of our deliver_sm.
    pub(super) async fn delivery_answered(&mut self, sequence: u32, status: CommandStatus) {
        let now = Instant::now();
        let Some(flight) = self.outstanding.remove(&sequence) else {
            // Perhaps the answer to one already re-sent: late, measured, otherwise ignored.
            if let Some(Some(written)) = self.resent.take(sequence) {
                self.answer_took(now.saturating_duration_since(written), true);
            }
            return;
        };
        if let Some(key) = flight.timer {
            self.timers.remove(&key);
        }
        if let Some(written) = flight.written {
            self.answer_took(now.saturating_duration_since(written), false);
        }
        let mut item = flight.item;
        let counters = &self.op.counters;
        if status == CommandStatus::EsmeRok {
            Counters::bump(match item.kind {
                Kind::Receipt => &counters.receipts_acked,
                Kind::Mo => &counters.mo_acked,
            });
        } else {
            item.refusals += 1;
            if item.refusals < self.timing.max_refusals {
                self.op
                    .delivery
                    .schedule(Pending::Ready(item), self.timing.retry_delay);
            } else {
                Counters::bump(match item.kind {
                    Kind::Receipt => &counters.receipts_failed,
                    Kind::Mo => &counters.mo_failed,
                });
            }
        }
        self.pull().await;
    }
}
