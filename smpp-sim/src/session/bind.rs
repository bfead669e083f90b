//! bind_transmitter / bind_receiver / bind_transceiver.

use rusmpp::pdus::{BindReceiverResp, BindTransceiverResp, BindTransmitterResp};
use rusmpp::types::COctetString;
use rusmpp::values::InterfaceVersion;
use rusmpp::{Command, CommandId, CommandStatus, Pdu};
use tracing::info;

use super::{BindKind, Flow, Session};
use crate::stats::Counters;

impl Session {
    /// Checks the account and answers the bind.
    pub(super) async fn bind(
        &mut self,
        kind: BindKind,
        sequence: u32,
        system_id: &str,
        password: &str,
    ) -> Flow {
        let command_id = match kind {
            BindKind::Transmitter => CommandId::BindTransmitter,
            BindKind::Receiver => CommandId::BindReceiver,
            BindKind::Transceiver => CommandId::BindTransceiver,
        };
        let refusal = if self.bound.is_some() {
            Some(CommandStatus::EsmeRalybnd)
        } else if system_id != self.op.system_id {
            Some(CommandStatus::EsmeRinvsysid)
        } else if password != self.op.password {
            Some(CommandStatus::EsmeRinvpaswd)
        } else if !self.op.take_bind_slot() {
            Some(CommandStatus::EsmeRalybnd)
        } else {
            None
        };
        if let Some(status) = refusal {
            Counters::bump(&self.op.counters.bind_failures);
            info!(operator = %self.op.name, system_id, ?kind, ?status, "bind refused");
            self.refuse(command_id, sequence, status).await;
            return Flow::Continue;
        }
        self.bound = Some(kind);
        Counters::bump(&self.op.counters.binds_total);
        info!(operator = %self.op.name, system_id, ?kind, "bound");
        let own_id =
            COctetString::from_string(self.op.name.chars().take(15).collect()).unwrap_or_default();
        let version = Some(InterfaceVersion::Smpp3_4);
        let pdu = match kind {
            BindKind::Transmitter => Pdu::from(BindTransmitterResp::new(own_id, version)),
            BindKind::Receiver => Pdu::from(BindReceiverResp::new(own_id, version)),
            BindKind::Transceiver => Pdu::from(BindTransceiverResp::new(own_id, version)),
        };
        self.send(Command::new(CommandStatus::EsmeRok, sequence, pdu))
            .await;
        if kind.receives() {
            self.pull().await;
        }
        Flow::Continue
    }
}
