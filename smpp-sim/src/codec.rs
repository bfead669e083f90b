//! PDU framing for the server side of a connection.
//!
//! Own framing because rusmpp's `CommandCodec` ends the stream on any bad body without the
//! sequence number, while an SMSC must answer generic_nack and keep the connection.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use rusmpp::decode::DecodeErrorKind;
use rusmpp::decode::DecodeWithLength;
use rusmpp::tokio_codec::CommandCodec;
use rusmpp::{Command, CommandStatus};
use tokio_util::codec::{Decoder, Encoder};

/// Length of the fixed PDU header.
pub const HEADER_LENGTH: usize = 16;

/// What the decoder yields for one complete frame.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // boxing would cost an allocation per PDU on the hot path
pub enum Frame {
    /// A PDU rusmpp decoded completely.
    Command(Command),
    /// A frame whose body could not be decoded: answer generic_nack and keep going.
    Malformed {
        /// command_id from the header.
        command_id: u32,
        /// sequence_number from the header.
        sequence_number: u32,
        /// The status the generic_nack should carry.
        status: CommandStatus,
    },
}

/// Errors that end a connection.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The socket failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// command_length is impossible, so framing is lost.
    #[error("command_length {length} outside 16..={max}")]
    BadLength {
        /// The command_length read.
        length: u32,
        /// The largest accepted.
        max: usize,
        /// The sequence_number, when the header was complete.
        sequence_number: u32,
    },
    /// Encoding a PDU failed.
    #[error("encode: {0}")]
    Encode(String),
}

/// Frames PDUs by command_length and decodes each body with rusmpp.
#[derive(Debug)]
pub struct FrameCodec {
    max_length: usize,
    encoder: CommandCodec,
}

impl FrameCodec {
    /// A codec refusing PDUs longer than `max_length` octets.
    pub fn new(max_length: usize) -> Self {
        Self {
            max_length,
            encoder: CommandCodec::new().without_max_length(),
        }
    }
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_be_bytes(word)
}

/// The generic_nack status for a body rusmpp could not decode.
fn status_for(kind: DecodeErrorKind) -> CommandStatus {
    match kind {
        DecodeErrorKind::UnexpectedEof
        | DecodeErrorKind::OctetStringDecodeError(_)
        | DecodeErrorKind::COctetStringDecodeError(_) => CommandStatus::EsmeRinvcmdlen,
        DecodeErrorKind::UnsupportedKey { .. } => CommandStatus::EsmeRinvtlvstream,
        _ => CommandStatus::EsmeRsyserr,
    }
}

impl Decoder for FrameCodec {
    type Item = Frame;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        if src.len() < 4 {
            return Ok(None);
        }
        let length = read_u32(src, 0);
        let len = length as usize;
        if len < HEADER_LENGTH || len > self.max_length {
            let sequence_number = if src.len() >= HEADER_LENGTH {
                read_u32(src, 12)
            } else {
                0
            };
            return Err(FrameError::BadLength {
                length,
                max: self.max_length,
                sequence_number,
            });
        }
        if src.len() < len {
            src.reserve(len - src.len());
            return Ok(None);
        }
        let mut frame = src.split_to(len);
        let command_id = read_u32(&frame, 4);
        let sequence_number = read_u32(&frame, 12);
        frame.advance(4);
        let body_length = len - 4;
        let malformed = |status| {
            Ok(Some(Frame::Malformed {
                command_id,
                sequence_number,
                status,
            }))
        };
        match Command::decode(&mut frame, body_length) {
            Ok((_, size)) if size != body_length || !frame.is_empty() => {
                malformed(CommandStatus::EsmeRinvcmdlen)
            }
            Ok((command, _)) => Ok(Some(Frame::Command(command))),
            Err(e) => malformed(status_for(e.kind())),
        }
    }
}

/// A PDU to write: a rusmpp command, or a header plus an already encoded body.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // boxing would cost an allocation per PDU on the hot path
pub enum OutFrame {
    /// Encoded by rusmpp.
    Command(Command),
    /// Header fields and a body encoded earlier (a deliver_sm that may be sent again).
    Raw {
        /// command_id.
        command_id: u32,
        /// command_status.
        status: u32,
        /// sequence_number.
        sequence_number: u32,
        /// The encoded body.
        body: Bytes,
    },
}

impl Encoder<OutFrame> for FrameCodec {
    type Error = FrameError;

    fn encode(&mut self, frame: OutFrame, dst: &mut BytesMut) -> Result<(), FrameError> {
        match frame {
            OutFrame::Command(command) => self
                .encoder
                .encode(&command, dst)
                .map_err(|e| FrameError::Encode(e.to_string())),
            OutFrame::Raw {
                command_id,
                status,
                sequence_number,
                body,
            } => {
                let length = u32::try_from(HEADER_LENGTH + body.len())
                    .map_err(|_| FrameError::Encode("body too long".into()))?;
                dst.reserve(HEADER_LENGTH + body.len());
                dst.put_u32(length);
                dst.put_u32(command_id);
                dst.put_u32(status);
                dst.put_u32(sequence_number);
                dst.extend_from_slice(&body);
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusmpp::{CommandId, Pdu};

    fn encoded(command: Command) -> BytesMut {
        let mut buf = BytesMut::new();
        FrameCodec::new(1024)
            .encode(OutFrame::Command(command), &mut buf)
            .unwrap();
        buf
    }

    #[test]
    fn decodes_a_whole_pdu_and_waits_for_a_partial_one() {
        let bytes = encoded(Command::new(CommandStatus::EsmeRok, 7, Pdu::EnquireLink));
        let mut codec = FrameCodec::new(1024);
        let mut partial = BytesMut::from(&bytes[..10]);
        assert!(codec.decode(&mut partial).unwrap().is_none());
        let mut whole = bytes.clone();
        match codec.decode(&mut whole).unwrap() {
            Some(Frame::Command(c)) => {
                assert_eq!(c.id(), CommandId::EnquireLink);
                assert_eq!(c.sequence_number(), 7);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(whole.is_empty());
    }

    #[test]
    fn truncated_body_is_malformed_with_its_sequence() {
        // bind_transmitter whose system_id has no terminating NUL.
        let mut raw = BytesMut::new();
        let body = b"abc";
        raw.extend_from_slice(&((16 + body.len()) as u32).to_be_bytes());
        raw.extend_from_slice(&0x0000_0002u32.to_be_bytes());
        raw.extend_from_slice(&0u32.to_be_bytes());
        raw.extend_from_slice(&42u32.to_be_bytes());
        raw.extend_from_slice(body);
        let mut codec = FrameCodec::new(1024);
        match codec.decode(&mut raw).unwrap() {
            Some(Frame::Malformed {
                command_id,
                sequence_number,
                ..
            }) => {
                assert_eq!(command_id, 2);
                assert_eq!(sequence_number, 42);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn impossible_length_is_fatal() {
        let mut raw = BytesMut::from(&[0u8, 0, 0, 5, 0, 0, 0, 21][..]);
        assert!(matches!(
            FrameCodec::new(1024).decode(&mut raw),
            Err(FrameError::BadLength { length: 5, .. })
        ));
    }
}
