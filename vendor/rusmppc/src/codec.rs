// khabar patch: framing that survives a PDU whose body cannot be decoded.
//
// rusmpp's `CommandCodec` returns an error for such a PDU, and a `Framed` stream ends at its
// first error, so the connection (and the bind) died although framing was intact. SMPP 3.4
// asks the receiver to answer generic_nack and carry on. This codec frames by command_length
// exactly as `CommandCodec` does; a body that does not decode is handed on as `Pdu::Other`
// with the header's command_id and an empty body, so the caller can answer it.

use rusmpp::{
    Command, CommandId, Pdu,
    decode::DecodeWithLength,
    tokio_codec::{CommandCodec, DecodeError, EncodeError},
    types::AnyOctetString,
};
use tokio_util::{
    bytes::{Buf, BytesMut},
    codec::{Decoder, Encoder},
};

const HEADER_LENGTH: usize = 16;

/// Frames SMPP PDUs; a body that does not decode becomes `Pdu::Other` (see the module docs).
#[derive(Debug)]
pub(crate) struct TolerantCodec {
    max_length: usize,
    encoder: CommandCodec,
}

impl TolerantCodec {
    /// A codec refusing (as a framing error) PDUs longer than `max_length` octets.
    pub(crate) fn new(max_length: usize) -> Self {
        Self {
            max_length,
            encoder: CommandCodec::new(),
        }
    }
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_be_bytes(word)
}

impl Decoder for TolerantCodec {
    type Item = Command;
    type Error = DecodeError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Command>, DecodeError> {
        if src.len() < HEADER_LENGTH {
            return Ok(None);
        }
        let length = read_u32(src, 0) as usize;
        if length < HEADER_LENGTH {
            return Err(DecodeError::MinLength {
                actual: length,
                min: HEADER_LENGTH,
            });
        }
        if length > self.max_length {
            return Err(DecodeError::MaxLength {
                actual: length,
                max: self.max_length,
            });
        }
        if src.len() < length {
            src.reserve(length - src.len());
            return Ok(None);
        }
        let mut frame = src.split_to(length);
        let command_id = CommandId::from(read_u32(&frame, 4));
        let status = read_u32(&frame, 8);
        let sequence_number = read_u32(&frame, 12);
        frame.advance(4);
        match Command::decode(&mut frame, length - 4) {
            Ok((command, _)) if frame.is_empty() => Ok(Some(command)),
            // stray octets after the body, or a body that does not decode
            _ => {
                tracing::debug!(target: "rusmppc::codec", ?command_id, sequence_number, "a PDU whose body does not decode");
                Ok(Some(Command::new(
                    status.into(),
                    sequence_number,
                    Pdu::Other {
                        command_id,
                        body: AnyOctetString::empty(),
                    },
                )))
            }
        }
    }
}

impl Encoder<&Command> for TolerantCodec {
    type Error = EncodeError;

    fn encode(&mut self, command: &Command, dst: &mut BytesMut) -> Result<(), EncodeError> {
        self.encoder.encode(command, dst)
    }
}
