//! User data header parsing for submit_sm with esm_class UDHI.
//!
//! Written here because rusmpp's `Udh` decodes a single information element, while a real
//! header may carry several and an SMSC must check that they tile the header exactly.

use rusmpp::udhs::concatenation::{ConcatenatedShortMessage8Bit, ConcatenatedShortMessage16Bit};

/// Concatenation information of one part (from a UDH element or the SAR TLVs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Concat {
    /// Reference shared by every part of one message.
    pub reference: u16,
    /// Number of parts in the message.
    pub total: u8,
    /// This part's 1-based number.
    pub seq: u8,
}

/// A parsed header: its size and what the simulator cares about in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Udh {
    /// Octets the header takes, including the length octet.
    pub len: usize,
    /// The concatenation element, if present.
    pub concat: Option<Concat>,
}

/// Why a header is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UdhError {
    /// UDHI set but the message is empty or the header is longer than the message.
    #[error("user data header longer than the message")]
    TooLong,
    /// An information element runs past the end of the header.
    #[error("information element 0x{0:02x} runs past the header")]
    Truncated(u8),
    /// A concatenation element has the wrong length or impossible numbers.
    #[error("bad concatenation element")]
    BadConcat,
    /// Two concatenation elements in one header.
    #[error("two concatenation elements")]
    DuplicateConcat,
}

/// Parses the header at the start of `payload`.
pub fn parse(payload: &[u8]) -> Result<Udh, UdhError> {
    let udhl = *payload.first().ok_or(UdhError::TooLong)? as usize;
    let len = 1 + udhl;
    if udhl == 0 || len > payload.len() {
        return Err(UdhError::TooLong);
    }
    let header = &payload[1..len];
    let mut concat = None;
    let mut at = 0;
    while at < header.len() {
        let iei = header[at];
        let Some(&iedl) = header.get(at + 1) else {
            return Err(UdhError::Truncated(iei));
        };
        let start = at + 2;
        let end = start + iedl as usize;
        let Some(data) = header.get(start..end) else {
            return Err(UdhError::Truncated(iei));
        };
        let found = match (iei, data) {
            (0x00, &[reference, total, seq]) => {
                ConcatenatedShortMessage8Bit::new(reference, total, seq)
                    .map_err(|_| UdhError::BadConcat)?;
                Some(Concat {
                    reference: u16::from(reference),
                    total,
                    seq,
                })
            }
            (0x08, &[hi, lo, total, seq]) => {
                let reference = u16::from_be_bytes([hi, lo]);
                ConcatenatedShortMessage16Bit::new(reference, total, seq)
                    .map_err(|_| UdhError::BadConcat)?;
                Some(Concat {
                    reference,
                    total,
                    seq,
                })
            }
            (0x00 | 0x08, _) => return Err(UdhError::BadConcat),
            _ => None,
        };
        if found.is_some() {
            if concat.is_some() {
                return Err(UdhError::DuplicateConcat);
            }
            concat = found;
        }
        at = end;
    }
    Ok(Udh { len, concat })
}

/// The 6-octet header of part `seq` of `total` with an 8-bit reference.
pub fn concat_header(reference: u8, total: u8, seq: u8) -> [u8; 6] {
    [0x05, 0x00, 0x03, reference, total, seq]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eight_and_sixteen_bit_references() {
        let udh = parse(&[0x05, 0x00, 0x03, 0x2A, 0x03, 0x02, b'h', b'i']).unwrap();
        assert_eq!(udh.len, 6);
        assert_eq!(
            udh.concat,
            Some(Concat {
                reference: 0x2A,
                total: 3,
                seq: 2
            })
        );
        let udh = parse(&[0x06, 0x08, 0x04, 0x12, 0x34, 0x02, 0x01, b'x']).unwrap();
        assert_eq!(udh.concat.map(|c| c.reference), Some(0x1234));
    }

    #[test]
    fn other_elements_are_skipped() {
        // A port-addressing element (0x05, 4 octets) before the concatenation element.
        let udh = parse(&[
            0x0B, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0, 0x00, 0x03, 0x01, 0x02, 0x01,
        ])
        .unwrap();
        assert_eq!(udh.len, 12);
        assert_eq!(udh.concat.map(|c| (c.total, c.seq)), Some((2, 1)));
    }

    #[test]
    fn malformed_headers() {
        assert_eq!(parse(&[]), Err(UdhError::TooLong));
        assert_eq!(parse(&[0x05, 0x00, 0x03]), Err(UdhError::TooLong));
        assert_eq!(parse(&[0x02, 0x00, 0x03]), Err(UdhError::Truncated(0)));
        assert_eq!(
            parse(&[0x05, 0x00, 0x03, 0x01, 0x02, 0x03]),
            Err(UdhError::BadConcat)
        );
        assert_eq!(
            parse(&[0x05, 0x00, 0x03, 0x01, 0x00, 0x00]),
            Err(UdhError::BadConcat)
        );
    }

    #[test]
    fn concat_header_parses_back() {
        let mut msg = concat_header(9, 2, 1).to_vec();
        msg.push(b'a');
        assert_eq!(parse(&msg).unwrap().concat.map(|c| c.reference), Some(9));
    }
}
