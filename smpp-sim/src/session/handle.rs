//! Dispatch of every PDU read from the ESME, and what the SMSC notes about the ESME's
//! behaviour on the way (generic_nack, answers to injected PDUs).

use rusmpp::{Command, CommandId, CommandStatus, Pdu};
use tracing::debug;

use super::{BindKind, Flow, Session};
use crate::codec::Frame;
use crate::stats::Counters;

/// command_id of generic_nack.
const GENERIC_NACK: u32 = 0x8000_0000;

impl Session {
    pub(super) async fn handle(&mut self, frame: Frame) -> Flow {
        let command = match frame {
            Frame::Command(command) => command,
            Frame::Malformed {
                command_id,
                sequence_number,
                status,
            } => {
                debug!(operator = %self.op.name, command_id, "malformed PDU");
                Counters::bump(&self.op.counters.malformed);
                // The header's own command_status is not kept for a body that did not decode.
                self.observe(command_id, None, sequence_number);
                self.nack(sequence_number, status).await;
                return Flow::Continue;
            }
        };
        let sequence = command.sequence_number();
        let id = command.id();
        let status = command.status();
        self.observe(u32::from(id), Some(u32::from(status)), sequence);
        match (id, command.pdu()) {
            (CommandId::EnquireLink, _) => {
                self.send(Command::new(
                    CommandStatus::EsmeRok,
                    sequence,
                    Pdu::EnquireLinkResp,
                ))
                .await;
                Flow::Continue
            }
            (CommandId::BindTransmitter, Some(Pdu::BindTransmitter(b))) => {
                let (sid, pw) = (b.system_id.as_str(), b.password.as_str());
                self.bind(BindKind::Transmitter, sequence, sid, pw).await
            }
            (CommandId::BindReceiver, Some(Pdu::BindReceiver(b))) => {
                let (sid, pw) = (b.system_id.as_str(), b.password.as_str());
                self.bind(BindKind::Receiver, sequence, sid, pw).await
            }
            (CommandId::BindTransceiver, Some(Pdu::BindTransceiver(b))) => {
                let (sid, pw) = (b.system_id.as_str(), b.password.as_str());
                self.bind(BindKind::Transceiver, sequence, sid, pw).await
            }
            (CommandId::DeliverSmResp, _) | (CommandId::GenericNack, _) => {
                self.delivery_answered(sequence, status).await;
                Flow::Continue
            }
            (CommandId::UnbindResp, _) => self.unbind_answered(sequence),
            (CommandId::EnquireLinkResp, _) => Flow::Continue,
            (
                CommandId::BindTransmitter
                | CommandId::BindReceiver
                | CommandId::BindTransceiver
                | CommandId::SubmitSm
                | CommandId::QuerySm,
                None,
            ) => {
                Counters::bump(&self.op.counters.malformed);
                self.nack(sequence, CommandStatus::EsmeRinvcmdlen).await;
                Flow::Continue
            }
            (id, _) if self.bound.is_none() && id.is_operation() && is_known(id) => {
                self.refuse(id, sequence, CommandStatus::EsmeRinvbndsts)
                    .await;
                Flow::Continue
            }
            (CommandId::Unbind, _) => {
                self.send(Command::new(
                    CommandStatus::EsmeRok,
                    sequence,
                    Pdu::UnbindResp,
                ))
                .await;
                Flow::Close
            }
            (CommandId::SubmitSm, Some(Pdu::SubmitSm(sm))) => self.submit(sequence, sm).await,
            (CommandId::QuerySm, Some(Pdu::QuerySm(q))) => {
                self.query(sequence, q).await;
                Flow::Continue
            }
            (id, _) if id.is_response() => Flow::Continue,
            (id, _) => {
                debug!(operator = %self.op.name, ?id, "unsupported command");
                self.nack(sequence, CommandStatus::EsmeRinvcmdid).await;
                Flow::Continue
            }
        }
    }

    /// Counts generic_nack from the ESME and records answers to injected PDUs.
    fn observe(&mut self, command_id: u32, status: Option<u32>, sequence: u32) {
        let counters = &self.op.counters;
        if command_id == GENERIC_NACK {
            Counters::bump(&counters.generic_nacks_received);
            if status == Some(0) {
                Counters::bump(&counters.generic_nacks_ok_status);
            }
        }
        let Some((record, to_response)) = self.injected.get(sequence) else {
            return;
        };
        if to_response {
            // Whatever it is, it answers a response.
            Counters::bump(&counters.answers_to_responses);
        } else if command_id & 0x8000_0000 == 0 {
            // A request of the ESME's own that happens to share the number.
            return;
        }
        if let Some(status) = status {
            self.op.links.answered(record, command_id, status);
        }
    }
}

/// Commands the simulator knows (others get ESME_RINVCMDID even before bind).
fn is_known(id: CommandId) -> bool {
    !matches!(id, CommandId::Other(_))
}
