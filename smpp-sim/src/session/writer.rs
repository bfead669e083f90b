//! The writing half of a connection: encodes PDUs and writes them in batches (one flush for
//! everything queued), so answers to pipelined submits share system calls.
//!
//! It also holds everything while the operator's `pause` is on (and drops it if the connection
//! closes first), and, once a batch is flushed, tells the session which of its deliver_sm were
//! written when and marks the parts whose ESME_ROK answer reached an open connection.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use futures::SinkExt;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{Notify, mpsc, watch};
use tokio_util::codec::FramedWrite;
use tokio_util::sync::CancellationToken;

use crate::codec::{FrameCodec, OutFrame};
use crate::faults::FaultSettings;
use crate::operator::Operator;

/// Most PDUs held during a pause; beyond, the writer stops taking more and the session waits
/// (so it stops reading) until the pause ends.
const MAX_HELD: usize = 100_000;

/// What the session asks the writer to do.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // boxing would cost an allocation per PDU on the hot path
pub(crate) enum Outgoing {
    /// Write this PDU.
    Pdu(OutFrame),
    /// Write this PDU, then act on the note once it has been flushed.
    Noted(OutFrame, Note),
    /// Write everything before this, then close the connection.
    Close,
}

/// What writing a PDU means, acted on once it has been flushed.
#[derive(Debug)]
pub(crate) enum Note {
    /// One of the session's deliver_sm: report when it was written, and wake whoever waits.
    Deliver {
        sequence: u32,
        signal: Option<Arc<Notify>>,
    },
    /// A submit_sm_resp ESME_ROK: the ESME now knows the part with this fingerprint was
    /// accepted (unless it had closed its side already).
    ToldOk(u64),
}

/// What the writer needs besides the socket and its queue.
pub(crate) struct Context {
    /// The operator's fault switches (for `pause`).
    pub faults: watch::Receiver<FaultSettings>,
    /// Where deliver_sm write times go: `(sequence_number, when)`.
    pub written: mpsc::UnboundedSender<(u32, Instant)>,
    /// Set by the reading side once the peer closed its side.
    pub peer_closed: Arc<AtomicBool>,
    /// Cancelled when the session ends: a paused writer then drops what it holds.
    pub closing: CancellationToken,
    /// The operator, for the told-OK marks.
    pub op: Arc<Operator>,
}

impl Context {
    fn settle(&self, notes: &mut Vec<Note>) {
        let at = Instant::now();
        let open = !self.peer_closed.load(Ordering::Acquire);
        for note in notes.drain(..) {
            match note {
                Note::Deliver { sequence, signal } => {
                    let _ = self.written.send((sequence, at));
                    if let Some(signal) = signal {
                        signal.notify_one();
                    }
                }
                Note::ToldOk(print) if open => self.op.told_ok(print),
                Note::ToldOk(_) => {}
            }
        }
    }
}

/// Runs until the session drops its sender or asks to close; `write` is the connection's
/// writing half (plain TCP or TLS).
pub(crate) async fn run<W: AsyncWrite + Unpin>(
    write: W,
    mut rx: mpsc::Receiver<Outgoing>,
    mut cx: Context,
) {
    let mut sink = FramedWrite::new(write, FrameCodec::new(usize::MAX));
    let mut held: VecDeque<Outgoing> = VecDeque::new();
    let mut notes = Vec::new();
    'outer: loop {
        let pause = cx.faults.borrow_and_update().pause_remaining();
        if let Some(left) = pause {
            tokio::select! {
                _ = cx.closing.cancelled() => break 'outer,
                received = rx.recv(), if held.len() < MAX_HELD => match received {
                    // The connection closes during the pause: what it held is never written.
                    Some(Outgoing::Close) | None => break 'outer,
                    Some(out) => held.push_back(out),
                },
                _ = tokio::time::sleep(left) => {}
                changed = cx.faults.changed() => if changed.is_err() {
                    break 'outer;
                },
            }
            continue;
        }
        let first = match held.pop_front() {
            Some(out) => out,
            None => match rx.recv().await {
                Some(out) => out,
                None => break,
            },
        };
        if cx.faults.borrow_and_update().pause_remaining().is_some() {
            held.push_front(first);
            continue;
        }
        let mut next = Some(first);
        let mut close = false;
        while let Some(out) = next {
            match out {
                Outgoing::Pdu(frame) => {
                    if sink.feed(frame).await.is_err() {
                        break 'outer;
                    }
                }
                Outgoing::Noted(frame, note) => {
                    if sink.feed(frame).await.is_err() {
                        break 'outer;
                    }
                    notes.push(note);
                }
                Outgoing::Close => {
                    close = true;
                    break;
                }
            }
            next = held.pop_front().or_else(|| rx.try_recv().ok());
        }
        if sink.flush().await.is_err() {
            break;
        }
        cx.settle(&mut notes);
        if close {
            break;
        }
    }
    let _ = sink.flush().await;
    let _ = sink.get_mut().shutdown().await;
}
