//! One ESME connection: reads PDUs, answers them, pushes receipts and MO to receiver binds,
//! and carries out what the handle asks of bound sessions (unbind, inject).
//!
//! The reading task owns the session's state; a writer task ([`writer`]) owns the socket's
//! writing half and reports back which deliver_sm it wrote when. A session runs the same over
//! a plain TCP connection ([`run_tcp`]) and over TLS ([`run_tls`]): it sees only a reading
//! and a writing half.

mod bind;
mod control;
mod deliver;
mod exchange;
mod handle;
mod writer;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use rusmpp::types::AnyOctetString;
use rusmpp::{Command, CommandId, CommandStatus, Pdu};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;
use tokio_util::time::DelayQueue;
use tracing::debug;

use crate::codec::{FrameCodec, FrameError, OutFrame};
use crate::faults::FaultSettings;
use crate::operator::Operator;
use crate::rate::RateWindow;
use crate::stats::Counters;
pub(crate) use control::Control;
use control::InjectedSequences;
use deliver::{InFlight, Resent, Timing};
use writer::Outgoing;

/// How long the SMSC waits for unbind_resp after sending unbind before closing anyway.
const UNBIND_WAIT: Duration = Duration::from_secs(5);

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
    id: u64,
    tx: mpsc::Sender<Outgoing>,
    control: mpsc::UnboundedSender<Control>,
    bound: Option<BindKind>,
    faults: FaultSettings,
    timing: Timing,
    next_sequence: u32,
    outstanding: HashMap<u32, InFlight>,
    resent: Resent,
    timers: DelayQueue<u32>,
    submits: u64,
    rate: RateWindow,
    /// The unbind the SMSC sent: its sequence number and when to stop waiting for the answer.
    unbind: Option<(u32, Instant)>,
    /// When `close_after_bind_ms` closes the connection.
    close_at: Option<Instant>,
    injected: InjectedSequences,
}

/// Serves one plain TCP connection (see [`run`]).
pub(crate) async fn run_tcp(stream: TcpStream, op: Arc<Operator>) {
    let (read, write) = stream.into_split();
    run(read, write, op).await;
}

/// Serves one connection whose TLS handshake is done (see [`run`]).
pub(crate) async fn run_tls(stream: TlsStream<TcpStream>, op: Arc<Operator>) {
    let (read, write) = tokio::io::split(stream);
    run(read, write, op).await;
}

/// Serves one connection, given as its reading and writing halves, until it closes, the
/// operator goes down, or the simulator stops.
async fn run<R, W>(read: R, write: W, op: Arc<Operator>)
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let mut frames = FramedRead::new(read, FrameCodec::new(op.sim.max_pdu_length));
    let (tx, rx) = mpsc::channel(1024);
    let (written_tx, mut written) = mpsc::unbounded_channel();
    let (control_tx, mut control) = mpsc::unbounded_channel();
    let peer_closed = Arc::new(AtomicBool::new(false));
    let closing = CancellationToken::new();
    let context = writer::Context {
        faults: op.faults.subscribe(),
        written: written_tx,
        peer_closed: peer_closed.clone(),
        closing: closing.clone(),
        op: op.clone(),
    };
    let mut writer = tokio::spawn(writer::run(write, rx, context));
    let mut faults = op.faults.subscribe();
    let mut receipts = op.receipts.subscribe();
    let stop = op.sim.stop.clone();
    let mut s = Session {
        id: op.links.session_id(),
        faults: faults.borrow_and_update().clone(),
        timing: Timing::default(),
        op,
        tx,
        control: control_tx,
        bound: None,
        next_sequence: 0,
        outstanding: HashMap::new(),
        resent: Resent::default(),
        timers: DelayQueue::new(),
        submits: 0,
        rate: RateWindow::default(),
        unbind: None,
        close_at: None,
        injected: InjectedSequences::default(),
    };
    s.timing = Timing::from(&*receipts.borrow_and_update());
    loop {
        if s.faults.down {
            Counters::bump(&s.op.counters.connections_dropped);
            break;
        }
        let hang = s.faults.hang_remaining();
        let pause = s.faults.pause_remaining();
        let pull = hang.is_none() && pause.is_none() && s.can_pull();
        let close_at = s.close_at;
        let unbind_until = s.unbind.map(|(_, until)| until);
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
                    s.timing = Timing::from(&*receipts.borrow_and_update());
                    Flow::Continue
                }
                Err(_) => Flow::Close,
            },
            Some((sequence, at)) = written.recv() => {
                s.written(sequence, at);
                Flow::Continue
            }
            _ = tokio::time::sleep(hang.unwrap_or_default()), if hang.is_some() => Flow::Continue,
            _ = tokio::time::sleep(pause.unwrap_or_default()), if pause.is_some() => {
                s.pull().await;
                Flow::Continue
            }
            _ = sleep_until(close_at), if close_at.is_some() => {
                debug!(operator = %s.op.name, "closing after bind (close_after_bind_ms)");
                Counters::bump(&s.op.counters.connections_dropped);
                Flow::Close
            }
            _ = sleep_until(unbind_until), if unbind_until.is_some() => {
                debug!(operator = %s.op.name, "no unbind_resp; closing");
                Flow::Close
            }
            Some(request) = control.recv(), if hang.is_none() => s.control(request).await,
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
                Some(Err(_)) | None => {
                    peer_closed.store(true, Ordering::Release);
                    Flow::Close
                }
            },
            Some(expired) = s.timers.next(), if hang.is_none() && !s.timers.is_empty() => {
                s.unanswered(expired.into_inner()).await;
                Flow::Continue
            }
        };
        if flow == Flow::Close {
            break;
        }
    }
    s.finish(&closing).await;
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

/// Sleeps until `at` (forever when `None`; such branches are disabled anyway).
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

impl Session {
    /// The next sequence number of the SMSC's own requests on this connection (never 0).
    fn fresh_sequence(&mut self) -> u32 {
        self.next_sequence = self.next_sequence.wrapping_add(1).max(1);
        self.next_sequence
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

    /// Releases the bind and hands unacknowledged deliver_sm back to the operator's queue.
    async fn finish(&mut self, closing: &CancellationToken) {
        self.op.links.remove(self.id);
        if self.bound.take().is_some() {
            self.op.release_bind_slot();
        }
        let items: Vec<_> = std::mem::take(&mut self.outstanding)
            .into_iter()
            .collect::<std::collections::BTreeMap<_, _>>()
            .into_values()
            .map(|f| f.item)
            .collect();
        self.op.delivery.give_back(items);
        // A writer paused now drops what it holds instead of writing it later.
        closing.cancel();
        self.send_out(Outgoing::Close).await;
    }
}
