//! submit_sm and query_sm from the ESME, with the faults applied.

use std::time::{Duration, Instant};

use rusmpp::pdus::{QuerySm, QuerySmResp, SubmitSm, SubmitSmResp};
use rusmpp::types::{COctetString, EmptyOrFullCOctetString};
use rusmpp::{Command, CommandId, CommandStatus, Pdu};

use super::writer::{Note, Outgoing};
use super::{Flow, Session};
use crate::codec::OutFrame;
use crate::stats::Counters;

/// Longest a submit_sm_resp waits for its receipt to be written (`before_response`).
const RECEIPT_FIRST_WAIT: Duration = Duration::from_secs(2);

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
        if f.nack_share > 0.0 && chance(f.nack_share) {
            Counters::bump(&counters.nacks_sent);
            self.nack(sequence, CommandStatus::EsmeRsyserr).await;
            return Flow::Continue;
        }
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
        let (response, receipt_written) = match self.op.accept(sm) {
            Ok(accepted) => {
                let id = COctetString::from_string(accepted.message_id).unwrap_or_default();
                let command = Command::new(
                    CommandStatus::EsmeRok,
                    sequence,
                    Pdu::from(SubmitSmResp::builder().message_id(id).build()),
                );
                let note = Note::ToldOk(accepted.fingerprint);
                (
                    Outgoing::Noted(OutFrame::Command(command), note),
                    accepted.receipt_written,
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
        if (f.response_delay_ms > 0 || receipt_written.is_some()) && !drop_now {
            let tx = self.tx.clone();
            let delay = Duration::from_millis(f.response_delay_ms);
            let stop = self.op.sim.stop.clone();
            self.op.sim.tasks.spawn(async move {
                let answer = async {
                    if let Some(written) = receipt_written {
                        // The receipt goes first (or 2 s pass).
                        let _ = tokio::time::timeout(RECEIPT_FIRST_WAIT, written.notified()).await;
                    }
                    tokio::time::sleep(delay).await;
                    let _ = tx.send(response).await;
                };
                tokio::select! {
                    _ = stop.cancelled() => {}
                    _ = answer => {}
                }
            });
        } else {
            self.send_out(response).await;
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
}

/// True with probability `p` (0..=1).
fn chance(p: f64) -> bool {
    rand::random_bool(p.clamp(0.0, 1.0))
}
