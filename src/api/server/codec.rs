//! Request framing: newline-terminated lines with a length cap.
//!
//! Wraps tokio-util's `LinesCodec`, which already discards an over-long line up to its newline
//! without buffering it whole. Its errors would end the frame stream, so this wrapper turns
//! "too long" and "not UTF-8" into ordinary frames: the connection answers and goes on.

use bytes::BytesMut;
use std::io;
use tokio_util::codec::{Decoder, LinesCodec, LinesCodecError};

/// One unit read from a client.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Frame {
    /// A complete line, without its newline (and without a trailing `\r`).
    Line(String),
    /// A line longer than the cap; the rest of it up to its newline is being discarded.
    TooLong,
    /// A line that is not valid UTF-8.
    NotUtf8,
}

/// Line framing with a cap, for request lines.
pub(crate) struct RequestCodec {
    lines: LinesCodec,
}

impl RequestCodec {
    /// Lines of at most `max_line_bytes` bytes (newline excluded).
    pub(crate) fn new(max_line_bytes: usize) -> Self {
        RequestCodec {
            lines: LinesCodec::new_with_max_length(max_line_bytes),
        }
    }

    fn map(result: Result<Option<String>, LinesCodecError>) -> io::Result<Option<Frame>> {
        match result {
            Ok(line) => Ok(line.map(Frame::Line)),
            Err(LinesCodecError::MaxLineLengthExceeded) => Ok(Some(Frame::TooLong)),
            // LinesCodec has already consumed the offending line when it reports bad UTF-8.
            Err(LinesCodecError::Io(e)) if e.kind() == io::ErrorKind::InvalidData => {
                Ok(Some(Frame::NotUtf8))
            }
            Err(LinesCodecError::Io(e)) => Err(e),
        }
    }
}

impl Decoder for RequestCodec {
    type Item = Frame;
    type Error = io::Error;

    fn decode(&mut self, buf: &mut BytesMut) -> io::Result<Option<Frame>> {
        Self::map(self.lines.decode(buf))
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> io::Result<Option<Frame>> {
        Self::map(self.lines.decode_eof(buf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(codec: &mut RequestCodec, buf: &mut BytesMut) -> Vec<Frame> {
        let mut frames = Vec::new();
        while let Ok(Some(f)) = codec.decode(buf) {
            frames.push(f);
        }
        frames
    }

    #[test]
    fn an_over_long_line_is_reported_once_and_the_next_line_survives() {
        let mut codec = RequestCodec::new(8);
        let mut buf = BytesMut::from(&b"0123456789abcdef"[..]);
        assert_eq!(decode_all(&mut codec, &mut buf), vec![Frame::TooLong]);
        buf.extend_from_slice(b"more junk\n{\"a\":1}\n");
        assert_eq!(
            decode_all(&mut codec, &mut buf),
            vec![Frame::Line("{\"a\":1}".into())]
        );
    }

    #[test]
    fn invalid_utf8_is_a_frame_not_an_error() {
        let mut codec = RequestCodec::new(64);
        let mut buf = BytesMut::from(&b"\xff\xfe\nok\r\n"[..]);
        assert_eq!(
            decode_all(&mut codec, &mut buf),
            vec![Frame::NotUtf8, Frame::Line("ok".into())]
        );
    }
}
