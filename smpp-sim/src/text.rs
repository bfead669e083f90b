//! Short message text: decoding by data_coding (GSM 7-bit, UCS-2, Latin-1, ASCII) and encoding
//! of the simulator's own messages (receipts, mobile-originated replies) with rusmpp's encoders.

use std::sync::LazyLock;

use rusmpp::extra::concatenation::{Concatenation, Concatenator};
use rusmpp::extra::encoding::gsm7bit::Gsm7BitUnpacked;
use rusmpp::extra::encoding::ucs2::Ucs2;
use rusmpp::extra::fallback::Fallback;

/// How the octets of a short message are to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    /// GSM 03.38 default alphabet, one septet per octet (SMPP "SMSC default").
    Gsm7,
    /// IA5 / ASCII.
    Ascii,
    /// ISO-8859-1.
    Latin1,
    /// UCS-2 big endian (UTF-16 surrogates accepted).
    Ucs2,
    /// 8-bit binary data, shown as hex.
    Binary,
}

impl Coding {
    /// The coding a data_coding value selects, or `None` when the simulator does not support it.
    pub fn from_data_coding(dcs: u8) -> Option<Self> {
        match dcs {
            0x00 => Some(Self::Gsm7),
            0x01 => Some(Self::Ascii),
            0x02 | 0x04 => Some(Self::Binary),
            0x03 => Some(Self::Latin1),
            0x08 => Some(Self::Ucs2),
            // GSM 03.38 general coding group, uncompressed, bits 3..2 select the alphabet.
            0x10..=0x1F => match (dcs >> 2) & 0b11 {
                0 => Some(Self::Gsm7),
                1 => Some(Self::Binary),
                2 => Some(Self::Ucs2),
                _ => None,
            },
            // Message class coding group: bit 2 selects 8-bit data, otherwise GSM 7-bit.
            0xF0..=0xFF => Some(if dcs & 0x04 != 0 {
                Self::Binary
            } else {
                Self::Gsm7
            }),
            _ => None,
        }
    }

    /// Whether a payload of `len` octets can be whole characters in this coding.
    pub fn length_ok(self, len: usize) -> bool {
        self != Self::Ucs2 || len.is_multiple_of(2)
    }
}

/// GSM 7-bit decoding tables, derived from rusmpp's encoder (which has no decoder) so that both
/// directions use the same alphabet.
struct Gsm7Tables {
    standard: [char; 128],
    extended: [Option<char>; 128],
}

static GSM7: LazyLock<Gsm7Tables> = LazyLock::new(|| {
    let mut tables = Gsm7Tables {
        standard: ['?'; 128],
        extended: [None; 128],
    };
    let mut seen = [false; 128];
    let encoder = Gsm7BitUnpacked::new();
    let candidates = ('\0'..='\u{03FF}').chain(['€']);
    for c in candidates {
        let Ok(bytes) = encoder.encode_to_vec(c.encode_utf8(&mut [0; 4])) else {
            continue;
        };
        match bytes.as_slice() {
            [b] if (*b as usize) < 128 && !seen[*b as usize] => {
                seen[*b as usize] = true;
                tables.standard[*b as usize] = c;
            }
            [0x1B, b] if (*b as usize) < 128 && tables.extended[*b as usize].is_none() => {
                tables.extended[*b as usize] = Some(c);
            }
            _ => {}
        }
    }
    tables
});

/// Decodes message octets into text; never fails (undecodable input shows as U+FFFD or `?`).
pub fn decode(coding: Coding, bytes: &[u8]) -> String {
    match coding {
        Coding::Gsm7 => decode_gsm7(bytes),
        Coding::Ascii => bytes
            .iter()
            .map(|&b| if b.is_ascii() { b as char } else { '?' })
            .collect(),
        Coding::Latin1 => bytes.iter().map(|&b| b as char).collect(),
        Coding::Ucs2 => char::decode_utf16(
            bytes
                .chunks_exact(2)
                .map(|pair| u16::from_be_bytes([pair[0], pair[1]])),
        )
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect(),
        Coding::Binary => bytes.iter().map(|b| format!("{b:02x}")).collect(),
    }
}

fn decode_gsm7(bytes: &[u8]) -> String {
    let tables = &*GSM7;
    let mut out = String::with_capacity(bytes.len());
    let mut iter = bytes.iter();
    while let Some(&b) = iter.next() {
        let b = (b & 0x7F) as usize;
        if b == 0x1B {
            match iter.next() {
                Some(&next) => {
                    let next = (next & 0x7F) as usize;
                    out.push(tables.extended[next].unwrap_or(tables.standard[next]));
                }
                None => out.push(' '),
            }
        } else {
            out.push(tables.standard[b]);
        }
    }
    out
}

/// Text encoded for the simulator's own deliver_sm: one payload per part (UDH not included)
/// and the data_coding used.
#[derive(Debug)]
pub struct Encoded {
    /// Payloads, one per SMS part.
    pub parts: Vec<Vec<u8>>,
    /// 0x00 (GSM 7-bit) or 0x08 (UCS-2).
    pub data_coding: u8,
}

/// Encodes `text` as GSM 7-bit when every character fits, otherwise UCS-2, split into parts
/// that leave room for an 8-bit concatenation UDH (6 octets) when more than one is needed.
pub fn encode_for_sms(text: &str) -> Result<Encoded, String> {
    let encoder = Fallback::new(Gsm7BitUnpacked::new(), Ucs2::new());
    let (concatenation, data_coding) = encoder
        .concatenate(text, 140, 6)
        .map_err(|e| format!("{e:?}"))?;
    let parts = match concatenation {
        Concatenation::Single(part) => vec![part],
        Concatenation::Concatenated(parts) => parts,
    };
    Ok(Encoded {
        parts,
        data_coding: u8::from(data_coding),
    })
}

/// Whether `text` can be sent in the GSM 7-bit default alphabet.
pub fn fits_gsm7(text: &str) -> bool {
    Gsm7BitUnpacked::new().encode_to_vec(text).is_ok()
}

/// A phone number as logs may show it: `+77011234567` → `+7701***4567`.
pub fn mask_number(number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    let head = if number.starts_with('+') { 5 } else { 4 };
    if chars.len() <= head + 4 {
        return "***".to_string();
    }
    let start: String = chars[..head].iter().collect();
    let end: String = chars[chars.len() - 4..].iter().collect();
    format!("{start}***{end}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const KAZAKH: &str = "Сәлеметсіз бе! Әлеуметтік әмиян: қолдау шарасы тағайындалды";

    #[test]
    fn gsm7_round_trips_through_rusmpp_encoder() {
        let text = "Hello @home: 100€ {ok} [x] ~ ^ |\\ Δ ß é";
        let bytes = Gsm7BitUnpacked::new().encode_to_vec(text).unwrap();
        assert_eq!(decode(Coding::Gsm7, &bytes), text);
    }

    #[test]
    fn ucs2_round_trips_kazakh() {
        let bytes = Ucs2::new().encode_to_vec(KAZAKH).unwrap();
        assert_eq!(decode(Coding::Ucs2, &bytes), KAZAKH);
    }

    #[test]
    fn latin1_and_ascii() {
        assert_eq!(decode(Coding::Latin1, &[0x63, 0x61, 0x66, 0xE9]), "café");
        assert_eq!(decode(Coding::Ascii, b"ok"), "ok");
    }

    #[test]
    fn encode_for_sms_picks_coding_and_splits() {
        let short = encode_for_sms("Yes").unwrap();
        assert_eq!((short.parts.len(), short.data_coding), (1, 0x00));
        let kazakh = encode_for_sms("Иә").unwrap();
        assert_eq!((kazakh.parts.len(), kazakh.data_coding), (1, 0x08));
        let long = encode_for_sms(&KAZAKH.repeat(3)).unwrap();
        assert!(long.parts.len() > 1);
        assert!(long.parts.iter().all(|p| p.len() <= 134));
        let joined: Vec<u8> = long.parts.concat();
        assert_eq!(decode(Coding::Ucs2, &joined), KAZAKH.repeat(3));
    }

    #[test]
    fn data_coding_support() {
        assert_eq!(Coding::from_data_coding(0x08), Some(Coding::Ucs2));
        assert_eq!(Coding::from_data_coding(0x18), Some(Coding::Ucs2));
        assert_eq!(Coding::from_data_coding(0xF0), Some(Coding::Gsm7));
        assert_eq!(Coding::from_data_coding(0x06), None);
    }

    #[test]
    fn masks_numbers() {
        assert_eq!(mask_number("+77011234567"), "+7701***4567");
        assert_eq!(mask_number("77011234567"), "7701***4567");
        assert_eq!(mask_number("1414"), "***");
    }
}
