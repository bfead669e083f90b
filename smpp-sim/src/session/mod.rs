//! One ESME connection: reads PDUs, answers them, and pushes receipts and MO to receiver binds.

mod bind;
mod exchange;
mod writer;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use rusmpp::types::AnyOctetString;
use rusmpp::{Command, CommandId, CommandStatus, Pdu};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::codec::FramedRead;
use tracing::debug;

use crate::codec::{Frame, FrameCodec, FrameError, OutFrame};
use crate::delivery::Outbound;
use crate::faults::FaultSettings;
use crate::operator::Operator;
use crate::rate::RateWindow;
use crate::stats::Counters;
use writer::Outgoing;

/// The kind of bind a session holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BindKind {
    Transmitter,
    Receiver,
    Transceiver,
}

impl BindKind {
    fn transmits(self) -> bool {
        self != Self::Receiver
    }

    fn receives(self) -> bool {
        self != Self::Transmitter
    }
}

/// Whether the connection goes on after a PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Continue,
    /// Close after writing what is queued.
    Close,
}

/// Per-connection state, owned by the reading task.
struct Session {
    op: Arc<Operator>,
    tx: mpsc::Sender<Outgoing>,
    bound: Option<BindKind>,
    faults: FaultSettings,
    window: usize,
    max_refusals: u32,
    retry_delay: Duration,
    next_sequence: u32,
    outstanding: HashMap<u32, Outbound>,
    submits: u64,
    rate: RateWindow,
}

/// Serves one TCP connection until it closes, the operator goes down, or the simulator stops.
pub(crate) async fn run(stream: TcpStream, op: Arc<Operator>) {
    let _ = stream.set_nodelay(true);
    let (read, write) = stream.into_split();
    let mut frames = FramedRead::new(read, FrameCodec::new(op.sim.max_pdu_length));
    let (tx, rx) = mpsc::channel(1024);
    let mut writer = tokio::spawn(writer::run(write, rx));
    let mut faults = op.faults.subscribe();
    let mut receipts = op.receipts.subscribe();
    let stop = op.sim.stop.clone();
    let mut s = Session {
        faults: faults.borrow_and_update().clone(),
        window: 1,
        max_refusals: 1,
        retry_delay: Duration::ZERO,
        op,
        tx,
        bound: None,
        next_sequence: 0,
        outstanding: HashMap::new(),
        submits: 0,
        rate: RateWindow::default(),
    };
    s.take_receipt_config(&receipts.borrow_and_update());
    loop {
        if s.faults.down {
            Counters::bump(&s.op.counters.connections_dropped);
            break;
        }
        let hang = s.faults.hang_remaining();
        let pull = hang.is_none() && s.can_pull();
        let flow = tokio::select! {
            biased;
            _ = stop.cancelled() => Flow::Close,
            changed = faults.changed() => match changed {
                Ok(()) => {
                    s.faults = faults.borrow_and_update().clone();
                    Flow::Continue
                }
                Err(_) => Flow::Close,
            },
            changed = receipts.changed() => match changed {
                Ok(()) => {
                    s.take_receipt_config(&receipts.borrow_and_update());
                    Flow::Continue
                }
                Err(_) => Flow::Close,
            },
            _ = tokio::time::sleep(hang.unwrap_or_default()), if hang.is_some() => Flow::Continue,
            _ = s.op.delivery.ready(), if pull => {
                s.pull().await;
                Flow::Continue
            }
            frame = frames.next(), if hang.is_none() => match frame {
                Some(Ok(frame)) => s.handle(frame).await,
                Some(Err(FrameError::BadLength { length, sequence_number, .. })) => {
                    debug!(operator = %s.op.name, length, "impossible command_length; closing");
                    Counters::bump(&s.op.counters.malformed);
                    Counters::bump(&s.op.counters.connections_dropped);
                    s.nack(sequence_number, CommandStatus::EsmeRinvcmdlen).await;
                    Flow::Close
                }
                Some(Err(_)) | None => Flow::Close,
            },
        };
        if flow == Flow::Close {
            break;
        }
    }
    s.finish().await;
    drop(s);
    // A peer that stops reading must not hold the simulator's shutdown.
    let grace = if stop.is_cancelled() {
        Duration::from_millis(100)
    } else {
        Duration::from_secs(5)
    };
    if tokio::time::timeout(grace, &mut writer).await.is_err() {
        writer.abort();
    }
}

impl Session {
    fn take_receipt_config(&mut self, config: &crate::ReceiptConfig) {
        self.window = config.window;
        self.max_refusals = config.max_attempts;
        self.retry_delay = Duration::from_millis(config.retry_delay_ms);
    }

    async fn send(&self, command: Command) {
        self.send_out(Outgoing::Pdu(OutFrame::Command(command)))
            .await;
    }

    /// Queues for the writer; waits while its queue is full, unless the simulator stops.
    async fn send_out(&self, out: Outgoing) {
        match self.tx.try_send(out) {
            Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => {}
            Err(mpsc::error::TrySendError::Full(out)) => {
                tokio::select! {
                    _ = self.tx.send(out) => {}
                    _ = self.op.sim.stop.cancelled() => {}
                }
            }
        }
    }

    /// Answers `command_id` with a header-only response carrying `status` (SMPP 3.4 sends no
    /// body with an error), or generic_nack when the command has no response.
    async fn refuse(&self, command_id: CommandId, sequence: u32, status: CommandStatus) {
        let response = command_id.matching_response();
        let pdu = if command_id.is_operation() && !matches!(response, CommandId::Other(_)) {
            Pdu::Other {
                command_id: response,
                body: AnyOctetString::empty(),
            }
        } else {
            Pdu::GenericNack
        };
        self.send(Command::new(status, sequence, pdu)).await;
    }

    async fn nack(&self, sequence: u32, status: CommandStatus) {
        self.send(Command::new(status, sequence, Pdu::GenericNack))
            .await;
    }

    async fn handle(&mut self, frame: Frame) -> Flow {
        let command = match frame {
            Frame::Command(command) => command,
            Frame::Malformed {
                command_id,
                sequence_number,
                status,
            } => {
                debug!(operator = %self.op.name, command_id, "malformed PDU");
                Counters::bump(&self.op.counters.malformed);
                self.nack(sequence_number, status).await;
                return Flow::Continue;
            }
        };
        let sequence = command.sequence_number();
        let id = command.id();
        let status = command.status();
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
            (CommandId::EnquireLinkResp | CommandId::UnbindResp, _) => Flow::Continue,
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

    /// Releases the bind and hands unacknowledged deliver_sm back to the operator's queue.
    async fn finish(&mut self) {
        if self.bound.take().is_some() {
            self.op.release_bind_slot();
        }
        let items: Vec<Outbound> = std::mem::take(&mut self.outstanding)
            .into_iter()
            .collect::<std::collections::BTreeMap<_, _>>()
            .into_values()
            .collect();
        self.op.delivery.give_back(items);
        self.send_out(Outgoing::Close).await;
    }
}

/// Commands the simulator knows (others get ESME_RINVCMDID even before bind).
fn is_known(id: CommandId) -> bool {
    !matches!(id, CommandId::Other(_))
}
