//! The writing half of a connection: encodes PDUs and writes them in batches (one flush for
//! everything queued), so answers to pipelined submits share system calls.

use futures::SinkExt;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;
use tokio_util::codec::FramedWrite;

use crate::codec::{FrameCodec, OutFrame};

/// What the session asks the writer to do.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // boxing would cost an allocation per PDU on the hot path
pub(crate) enum Outgoing {
    /// Write this PDU.
    Pdu(OutFrame),
    /// Write everything before this, then close the connection.
    Close,
}

/// Runs until the session drops its sender or asks to close.
pub(crate) async fn run(write: OwnedWriteHalf, mut rx: mpsc::Receiver<Outgoing>) {
    let mut sink = FramedWrite::new(write, FrameCodec::new(usize::MAX));
    'outer: while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(message) = next {
            match message {
                Outgoing::Pdu(frame) => {
                    if sink.feed(frame).await.is_err() {
                        break 'outer;
                    }
                }
                Outgoing::Close => break 'outer,
            }
            next = rx.try_recv().ok();
        }
        if sink.flush().await.is_err() {
            break;
        }
    }
    let _ = sink.flush().await;
    let _ = sink.get_mut().shutdown().await;
}
