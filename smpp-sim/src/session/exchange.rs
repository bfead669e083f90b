//! submit_sm and query_sm from the ESME, deliver_sm to it, with the faults applied.

use std::time::Instant;

use rusmpp::pdus::{QuerySm, QuerySmResp, SubmitSm, SubmitSmResp};
use rusmpp::types::{COctetString, EmptyOrFullCOctetString};
use rusmpp::{Command, CommandId, CommandStatus, Pdu};

use super::writer::Outgoing;
use super::{Flow, Session};
use crate::codec::OutFrame;
use crate::delivery::{Kind, Pending};
use crate::stats::Counters;

impl Session {
    /// Handles submit_sm: bind state, faults, the operator's checks, then the answer.
    pub(super) async fn submit(&mut self, sequence: u32, sm: &SubmitSm) -> Flow {
        let counters = &self.op.counters;
        if !self.bound.is_some_and(|k| k.transmits()) {
            self.refuse(CommandId::SubmitSm, sequence, CommandStatus::EsmeRinvbndsts)
                .await;
            return Flow::Continue;
        }
        let now = Instant::now();
        Counters::bump(&counters.submits);
        counters.record_submit_time(now);
        self.submits += 1;

        let f = &self.faults;
        let over_tps = f
            .throttle_above_tps
            .is_some_and(|tps| self.rate.count(now) >= tps as usize);
        let refusal = if over_tps || (f.throttle_share > 0.0 && chance(f.throttle_share)) {
            Counters::bump(&counters.throttled);
            Some(CommandStatus::EsmeRthrottled)
        } else if f.queue_full_share > 0.0 && chance(f.queue_full_share) {
            Counters::bump(&counters.rejected);
            Some(CommandStatus::EsmeRmsgqful)
        } else {
            None
        };
        if let Some(status) = refusal {
            self.refuse(CommandId::SubmitSm, sequence, status).await;
            return Flow::Continue;
        }
        if f.throttle_above_tps.is_some() {
            self.rate.record(now);
        }
        let response = match self.op.accept(sm) {
            Ok(message_id) => {
                let id = COctetString::from_string(message_id).unwrap_or_default();
                Command::new(
                    CommandStatus::EsmeRok,
                    sequence,
                    Pdu::from(SubmitSmResp::builder().message_id(id).build()),
                )
            }
            Err(status) => {
                Counters::bump(&counters.rejected);
                self.refuse(CommandId::SubmitSm, sequence, status).await;
                return Flow::Continue;
            }
        };
        let f = &self.faults;
        if f.drop_probability > 0.0 && chance(f.drop_probability) {
            // Accepted, but the answer is lost with the connection.
            Counters::bump(&counters.connections_dropped);
            return Flow::Close;
        }
        let drop_now = f.drop_after_submits.is_some_and(|n| self.submits >= n);
        if f.response_delay_ms > 0 && !drop_now {
            let tx = self.tx.clone();
            let delay = std::time::Duration::from_millis(f.response_delay_ms);
            let stop = self.op.sim.stop.clone();
            self.op.sim.tasks.spawn(async move {
                let answer = async {
                    tokio::time::sleep(delay).await;
                    let _ = tx.send(Outgoing::Pdu(OutFrame::Command(response))).await;
                };
                tokio::select! {
                    _ = stop.cancelled() => {}
                    _ = answer => {}
                }
            });
        } else {
            self.send(response).await;
        }
        if drop_now {
            Counters::bump(&counters.connections_dropped);
            return Flow::Close;
        }
        Flow::Continue
    }

    /// Answers query_sm with the message's current state.
    pub(super) async fn query(&mut self, sequence: u32, q: &QuerySm) {
        Counters::bump(&self.op.counters.queries);
        if !self.bound.is_some_and(|k| k.transmits()) {
            self.refuse(CommandId::QuerySm, sequence, CommandStatus::EsmeRinvbndsts)
                .await;
            return;
        }
        let Some(answer) = self.op.query(q.message_id.as_str()) else {
            self.refuse(CommandId::QuerySm, sequence, CommandStatus::EsmeRqueryfail)
                .await;
            return;
        };
        let resp = QuerySmResp::builder()
            .message_id(q.message_id.clone())
            .final_date(EmptyOrFullCOctetString::from_string(answer.final_date).unwrap_or_default())
            .message_state(answer.state)
            .error_code(answer.error_code)
            .build();
        self.send(Command::new(
            CommandStatus::EsmeRok,
            sequence,
            Pdu::from(resp),
        ))
        .await;
    }

    /// Whether this session can take more deliver_sm now.
    pub(super) fn can_pull(&self) -> bool {
        self.bound.is_some_and(|k| k.receives()) && self.outstanding.len() < self.window
    }

    /// Sends ready receipts and MO while the window has room.
    pub(super) async fn pull(&mut self) {
        if !self.can_pull() || self.faults.hang_remaining().is_some() {
            return;
        }
        let room = self.window - self.outstanding.len();
        for item in self.op.delivery.take(room) {
            self.next_sequence = self.next_sequence.wrapping_add(1).max(1);
            let sequence = self.next_sequence;
            let counter = match item.kind {
                Kind::Receipt => &self.op.counters.receipts_sent,
                Kind::Mo => &self.op.counters.mo_sent,
            };
            Counters::bump(counter);
            let frame = OutFrame::Raw {
                command_id: u32::from(CommandId::DeliverSm),
                status: 0,
                sequence_number: sequence,
                body: item.body.clone(),
            };
            self.outstanding.insert(sequence, item);
            self.send_out(Outgoing::Pdu(frame)).await;
        }
    }

    /// deliver_sm_resp (or generic_nack) for one of our deliver_sm.
    pub(super) async fn delivery_answered(&mut self, sequence: u32, status: CommandStatus) {
        let Some(mut item) = self.outstanding.remove(&sequence) else {
            return;
        };
        let counters = &self.op.counters;
        if status == CommandStatus::EsmeRok {
            Counters::bump(match item.kind {
                Kind::Receipt => &counters.receipts_acked,
                Kind::Mo => &counters.mo_acked,
            });
        } else {
            item.refusals += 1;
            if item.refusals < self.max_refusals {
                self.op
                    .delivery
                    .schedule(Pending::Ready(item), self.retry_delay);
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

/// True with probability `p` (0..=1).
fn chance(p: f64) -> bool {
    rand::random_bool(p.clamp(0.0, 1.0))
}
