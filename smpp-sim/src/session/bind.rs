//! bind_transmitter / bind_receiver / bind_transceiver, and what the faults do right after a
//! bind (refuse it, send a large deliver_sm, close the connection later).

use std::time::{Duration, Instant};

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
        } else if self.op.take_bind_refusal() {
            Some(CommandStatus::EsmeRbindfail)
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
        self.op
            .links
            .bound(self.id, kind.receives(), self.control.clone());
        if let Some(ms) = self.faults.close_after_bind_ms {
            self.close_at = Some(Instant::now() + Duration::from_millis(ms));
        }
        if kind.receives() {
            if let Some(octets) = self.faults.large_deliver_after_bind {
                self.send_large(octets).await;
            }
            self.pull().await;
        }
        Flow::Continue
    }
}
