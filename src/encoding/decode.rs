//! Decoding the `short_message` of incoming (mobile-originated) deliver_sm PDUs.
//!
//! rusmpp-extra 0.4 only encodes, so decoding is ours. The GSM table is not typed in by hand:
//! it is derived once from rusmpp's own GSM encoder, so the two directions cannot disagree.

use rusmpp::extra::encoding::gsm7bit::Gsm7BitUnpacked;
use std::sync::OnceLock;

/// Shown for bytes that do not decode.
const REPLACEMENT: char = char::REPLACEMENT_CHARACTER;
/// The GSM 7-bit escape to the extension table.
const GSM_ESCAPE: u8 = 0x1B;

/// The alphabet a `data_coding` value announces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Alphabet {
    Gsm7,
    Ucs2,
    Latin1,
    Cyrillic,
}

/// Maps SMPP `data_coding` (SMPP 3.4 §5.2.19) and the GSM 03.38 coding groups some SMSCs pass
/// through unchanged to an alphabet. Binary and unknown codings are shown as Latin-1 so that
/// nothing is dropped.
fn alphabet(data_coding: u8) -> Alphabet {
    match data_coding {
        0x00 => Alphabet::Gsm7,
        0x06 => Alphabet::Cyrillic,
        0x08 => Alphabet::Ucs2,
        0x01..=0x0F => Alphabet::Latin1,
        // General data coding groups (00xx, 01xx): bits 3..2 give the alphabet.
        0x10..=0x7F => match (data_coding >> 2) & 0b11 {
            0b00 => Alphabet::Gsm7,
            0b10 => Alphabet::Ucs2,
            _ => Alphabet::Latin1,
        },
        // Message waiting groups: GSM (1100, 1101) and UCS-2 (1110).
        0xC0..=0xDF => Alphabet::Gsm7,
        0xE0..=0xEF => Alphabet::Ucs2,
        // Data coding / message class group: bit 2 set = 8-bit data.
        0xF0..=0xFF if data_coding & 0b100 == 0 => Alphabet::Gsm7,
        _ => Alphabet::Latin1,
    }
}

/// Decodes a deliver_sm `short_message` into text. Never panics: undecodable bytes become
/// U+FFFD. With `udh` (the UDHI bit of esm_class) the user data header is skipped first.
///
/// GSM 7-bit is read unpacked (one septet per octet), as SMSCs send it over SMPP. UCS-2 is
/// read as UTF-16BE, so surrogate pairs from modern phones decode too.
pub fn decode_short_message(data_coding: u8, bytes: &[u8], udh: bool) -> String {
    let body = if udh {
        let header_len = bytes.first().map_or(0, |&udhl| 1 + usize::from(udhl));
        bytes.get(header_len..).unwrap_or(&[])
    } else {
        bytes
    };
    match alphabet(data_coding) {
        Alphabet::Gsm7 => decode_gsm(body),
        Alphabet::Ucs2 => decode_ucs2(body),
        Alphabet::Latin1 => body.iter().map(|&b| char::from(b)).collect(),
        Alphabet::Cyrillic => body.iter().map(|&b| iso_8859_5(b)).collect(),
    }
}

/// UTF-16BE, a dangling odd byte or lone surrogate becoming U+FFFD.
fn decode_ucs2(body: &[u8]) -> String {
    let units = body.chunks(2).map(|pair| match pair {
        [hi, lo] => u16::from_be_bytes([*hi, *lo]),
        _ => 0xFFFD,
    });
    char::decode_utf16(units)
        .map(|unit| unit.unwrap_or(REPLACEMENT))
        .collect()
}

/// ISO-8859-5: ASCII and C1 below 0xA0; Cyrillic from 0xA1 at U+0401 upward, except the
/// four positions that hold other symbols.
fn iso_8859_5(byte: u8) -> char {
    match byte {
        0x00..=0xA0 | 0xAD => char::from(byte),
        0xF0 => '№',
        0xFD => '§',
        _ => char::from_u32(0x0360 + u32::from(byte)).unwrap_or(REPLACEMENT),
    }
}

/// GSM 03.38 default alphabet and extension table, indexed by septet.
struct GsmTables {
    standard: [Option<char>; 128],
    extension: [Option<char>; 128],
}

/// Builds the reverse tables by asking rusmpp's encoder about every character the GSM
/// alphabet can contain (Latin-1, Greek capitals, '€').
fn gsm_tables() -> &'static GsmTables {
    static TABLES: OnceLock<GsmTables> = OnceLock::new();
    TABLES.get_or_init(|| {
        let mut tables = GsmTables {
            standard: [None; 128],
            extension: [None; 128],
        };
        let encoder = Gsm7BitUnpacked::new();
        let candidates = (0u32..0x0400).chain(std::iter::once(0x20AC));
        let mut buf = [0u8; 4];
        for ch in candidates.filter_map(char::from_u32) {
            match encoder.encode_to_vec(ch.encode_utf8(&mut buf)).as_deref() {
                Ok([septet]) if *septet < 128 => {
                    tables.standard[usize::from(*septet)].get_or_insert(ch);
                }
                Ok([GSM_ESCAPE, septet]) if *septet < 128 => {
                    tables.extension[usize::from(*septet)].get_or_insert(ch);
                }
                _ => {}
            }
        }
        tables
    })
}

/// Unpacked GSM septets to text. An escape followed by a code with no extension character
/// shows the default-alphabet character, as GSM 03.38 asks of receivers.
fn decode_gsm(body: &[u8]) -> String {
    let tables = gsm_tables();
    let standard = |septet: u8| {
        tables
            .standard
            .get(usize::from(septet))
            .copied()
            .flatten()
            .unwrap_or(REPLACEMENT)
    };
    let mut text = String::with_capacity(body.len());
    let mut septets = body.iter().copied();
    while let Some(septet) = septets.next() {
        if septet == GSM_ESCAPE {
            match septets.next() {
                Some(code) => text.push(
                    tables
                        .extension
                        .get(usize::from(code))
                        .copied()
                        .flatten()
                        .unwrap_or_else(|| standard(code)),
                ),
                None => break,
            }
        } else {
            text.push(standard(septet));
        }
    }
    text
}
