//! What the handle asks of a bound session: send unbind and close after the answer, or write
//! an injected PDU and record what the ESME sends back with its sequence number.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use rusmpp::{Command, CommandId, CommandStatus, Pdu};
use tracing::debug;

use super::writer::Outgoing;
use super::{Flow, Session, UNBIND_WAIT};
use crate::codec::OutFrame;
use crate::inject::{self, InjectPdu, UNKNOWN_COMMAND_ID};
use crate::stats::Counters;

/// Injected sequence numbers remembered per connection (the oldest forgotten first).
const MAX_INJECTED: usize = 1_000;

/// A request from the handle to one bound session.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Control {
    /// Send unbind, wait for unbind_resp (at most 5 s), then close.
    Unbind,
    /// Write this PDU.
    Inject(InjectPdu),
}

/// The sequence numbers of PDUs injected on one connection: the log record each belongs to,
/// and whether the PDU was a response.
#[derive(Debug, Default)]
pub(super) struct InjectedSequences {
    records: HashMap<u32, (u64, bool)>,
    order: VecDeque<u32>,
}

impl InjectedSequences {
    fn insert(&mut self, sequence: u32, record: u64, response: bool) {
        if self.records.insert(sequence, (record, response)).is_none() {
            self.order.push_back(sequence);
        }
        while self.order.len() > MAX_INJECTED {
            if let Some(old) = self.order.pop_front() {
                self.records.remove(&old);
            }
        }
    }

    /// The record of `sequence` and whether it was a response, if it was injected here.
    pub(super) fn get(&self, sequence: u32) -> Option<(u64, bool)> {
        self.records.get(&sequence).copied()
    }
}

impl Session {
    /// Carries out a request from the handle.
    pub(super) async fn control(&mut self, request: Control) -> Flow {
        if self.bound.is_none() {
            return Flow::Continue;
        }
        match request {
            Control::Unbind => self.send_unbind().await,
            Control::Inject(pdu) => self.inject(pdu).await,
        }
        Flow::Continue
    }

    async fn send_unbind(&mut self) {
        if self.unbind.is_some() {
            return;
        }
        let sequence = self.fresh_sequence();
        Counters::bump(&self.op.counters.unbinds_sent);
        debug!(operator = %self.op.name, sequence, "sending unbind");
        self.unbind = Some((sequence, Instant::now() + UNBIND_WAIT));
        self.send(Command::new(CommandStatus::EsmeRok, sequence, Pdu::Unbind))
            .await;
    }

    /// unbind_resp from the ESME: closes when it answers the SMSC's unbind.
    pub(super) fn unbind_answered(&mut self, sequence: u32) -> Flow {
        match self.unbind {
            Some((sent, _)) if sent == sequence => {
                Counters::bump(&self.op.counters.unbind_resps_received);
                Flow::Close
            }
            _ => Flow::Continue,
        }
    }

    async fn inject(&mut self, pdu: InjectPdu) {
        let raw = |command_id: CommandId, sequence_number, body| {
            Outgoing::Pdu(OutFrame::Raw {
                command_id: u32::from(command_id),
                status: 0,
                sequence_number,
                body,
            })
        };
        let sequence = match pdu {
            InjectPdu::UnknownCommand => {
                let sequence = self.fresh_sequence();
                let out = raw(
                    CommandId::Other(UNKNOWN_COMMAND_ID),
                    sequence,
                    bytes::Bytes::new(),
                );
                self.send_out(out).await;
                sequence
            }
            InjectPdu::UnsolicitedSubmitSmResp => {
                let sequence = self.op.links.unsolicited_sequence();
                let (message_id, _) = self.op.sim.ids.next();
                let body = inject::c_string(&message_id);
                self.send_out(raw(CommandId::SubmitSmResp, sequence, body))
                    .await;
                sequence
            }
            InjectPdu::UnexpectedResponse => {
                let sequence = self.op.links.unsolicited_sequence();
                let (message_id, _) = self.op.sim.ids.next();
                let body = inject::query_sm_resp_body(&message_id);
                self.send_out(raw(CommandId::QuerySmResp, sequence, body))
                    .await;
                sequence
            }
            InjectPdu::MalformedDeliverSm => {
                let sequence = self.fresh_sequence();
                let body = inject::malformed_deliver_body();
                self.send_out(raw(CommandId::DeliverSm, sequence, body))
                    .await;
                sequence
            }
            InjectPdu::LargeDeliverSm(octets) => self.send_large(octets).await,
        };
        debug!(operator = %self.op.name, ?pdu, sequence, "injected");
        let record = self.op.links.injected(pdu, sequence);
        self.injected.insert(sequence, record, pdu.is_response());
    }
}
