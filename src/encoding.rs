//! Text → SMS parts: choosing the alphabet, counting parts and building the submit_sm PDUs.
//!
//! The encoders and the splitting come from rusmpp's `extra` feature (GSM 7-bit unpacked,
//! UCS-2, `SubmitSm::multipart`); this module decides which to use and with which sizes.
//!
//! - **GSM 7-bit** when every character is in the GSM 03.38 default alphabet (extension-table
//!   characters such as `€ { } [ ] ~ \ | ^` take two septets). rusmpp sends it *unpacked* (one
//!   septet per octet) with `data_coding` 0x00, which is what SMSCs expect over SMPP: the SMSC
//!   packs septets for the air interface. 160 septets fit one SMS, 153 a concatenated part.
//! - **UCS-2** (`data_coding` 0x08) otherwise; Kazakh letters (ә ғ қ ң ө ұ ү һ і) and Russian
//!   Cyrillic always need it. 70 characters fit one SMS, 67 a concatenated part.
//! - Characters outside the Basic Multilingual Plane (emoji and other code points above
//!   U+FFFF) are **refused** with [`EncodingError::UnsupportedCharacter`]: UCS-2 cannot carry
//!   them, rusmpp's UCS-2 encoder rejects them, and sending UTF-16 surrogate pairs under
//!   data_coding 8 is handset-dependent and may be split between parts. The government texts
//!   this gateway carries never need them; upstream gets a clear error instead of mojibake.
//!
//! Long texts are split with an 8-bit-reference concatenation UDH by default
//! ([`ConcatMode::Udh8`]); [`ConcatMode::Udh16`] uses a 16-bit reference (152 / 66 per part),
//! and [`ConcatMode::Sar`] sends parts without UDH and with the SMPP `sar_*` TLVs, for SMSCs
//! that build the UDH themselves.

mod decode;

pub use decode::decode_short_message;

use rusmpp::extra::concatenation::{Concatenation, Concatenator, SubmitSmMultipartExt};
use rusmpp::extra::encoding::gsm7bit::{Gsm7BitConcatenateError, Gsm7BitUnpacked};
use rusmpp::extra::encoding::ucs2::{Ucs2, Ucs2ConcatenateError};
use rusmpp::pdus::SubmitSm;
use rusmpp::tlvs::MessageSubmissionRequestTlvValue;
use rusmpp::types::OctetString;
use rusmpp::values::DataCoding;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Septets in one unconcatenated GSM 7-bit SMS.
const GSM_SINGLE: usize = 160;
/// Octets in one SMS's user data (UCS-2: 70 characters).
const OCTETS_SINGLE: usize = 140;
/// Octets of a concatenation UDH with an 8-bit reference (UDHL, IEI, IEDL, ref, total, seq).
const UDH8_OCTETS: usize = 6;
/// Octets of a concatenation UDH with a 16-bit reference.
const UDH16_OCTETS: usize = 7;

/// How the parts of a long message are tied together.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConcatMode {
    /// UDH concatenation IE with an 8-bit reference (the low byte of the reference).
    #[default]
    Udh8,
    /// UDH concatenation IE with a 16-bit reference.
    Udh16,
    /// No UDH; `sar_msg_ref_num`, `sar_total_segments` and `sar_segment_seqnum` TLVs.
    Sar,
}

impl ConcatMode {
    /// Octets the concatenation header takes from each part. For SAR the SMSC adds the UDH;
    /// we reserve room for the 16-bit form since `sar_msg_ref_num` is 16 bits wide.
    fn header_octets(self) -> usize {
        match self {
            ConcatMode::Udh8 => UDH8_OCTETS,
            ConcatMode::Udh16 | ConcatMode::Sar => UDH16_OCTETS,
        }
    }
}

/// The `[encoding]` section of config.toml.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EncodingConfig {
    /// Longest message accepted, in SMS parts (1–255; 0 refuses every text).
    pub max_parts: u8,
    /// How parts are tied together; an operator's session config may override it.
    pub concatenation: ConcatMode,
}

impl Default for EncodingConfig {
    /// At most 6 parts (402 Cyrillic or 918 Latin characters), 8-bit UDH references.
    fn default() -> Self {
        EncodingConfig {
            max_parts: 6,
            concatenation: ConcatMode::Udh8,
        }
    }
}

/// The alphabet a text is sent in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Coding {
    /// GSM 03.38 default alphabet, unpacked septets, data_coding 0x00.
    Gsm7,
    /// UCS-2 big-endian, data_coding 0x08.
    Ucs2,
}

impl Coding {
    /// The SMPP `data_coding` value.
    pub fn data_coding(self) -> u8 {
        match self {
            Coding::Gsm7 => 0x00,
            Coding::Ucs2 => 0x08,
        }
    }

    /// What [`Plan::units`] counts in this alphabet.
    fn unit_name(self) -> &'static str {
        match self {
            Coding::Gsm7 => "GSM septets",
            Coding::Ucs2 => "UCS-2 characters",
        }
    }
}

impl fmt::Display for Coding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Coding::Gsm7 => "GSM 7-bit",
            Coding::Ucs2 => "UCS-2",
        })
    }
}

/// How a text will be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The alphabet.
    pub coding: Coding,
    /// Length in the alphabet's units: septets for GSM (extension characters count 2),
    /// UCS-2 code units otherwise.
    pub units: usize,
    /// Number of SMS parts.
    pub parts: usize,
    /// Units one part holds: the single-SMS limit when `parts == 1`, else the per-part limit.
    pub part_capacity: usize,
}

/// Why a text cannot be sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EncodingError {
    /// The text is empty or only whitespace.
    #[error("the message text is empty")]
    Empty,
    /// A character neither GSM 7-bit nor UCS-2 can carry (emoji, characters above U+FFFF).
    #[error(
        "character {character:?} (U+{code:04X}) at position {position} cannot be sent by SMS: \
         it is outside UCS-2 (emoji and other characters above U+FFFF are not supported); \
         remove or replace it",
        code = u32::from(*.character)
    )]
    UnsupportedCharacter {
        /// The character.
        character: char,
        /// Its position in the text, in characters from 0.
        position: usize,
    },
    /// The text needs more parts than `max_parts` allows.
    #[error(
        "the text needs {parts} SMS parts ({units} {unit}), more than the maximum of {max}; \
         shorten it",
        unit = .coding.unit_name()
    )]
    TooManyParts {
        /// Parts the text needs.
        parts: usize,
        /// The configured maximum.
        max: u8,
        /// The alphabet chosen.
        coding: Coding,
        /// Length in that alphabet's units.
        units: usize,
    },
    /// rusmpp refused to split or wrap the text (not expected after a successful plan).
    #[error("splitting the text into SMS parts failed: {0}")]
    Split(String),
}

/// Unpacked GSM through rusmpp's splitter with the part header counted in septets.
///
/// rusmpp subtracts the UDH length in octets from the part size, which is right for octet
/// alphabets but not for unpacked septets: the SMSC packs the septets after the UDH (plus fill
/// bits), so a 6-octet UDH costs 7 septets and leaves 153, not 154. This wrapper converts.
#[derive(Debug, Default)]
struct UnpackedGsm(Gsm7BitUnpacked);

impl Concatenator for UnpackedGsm {
    type Error = Gsm7BitConcatenateError;

    fn concatenate(
        &self,
        message: &str,
        max_message_size: usize,
        part_header_size: usize,
    ) -> Result<(Concatenation, DataCoding), Self::Error> {
        let header_septets = (part_header_size * 8).div_ceil(7);
        self.0
            .concatenate(message, max_message_size, header_septets)
    }
}

/// The text's parts as encoded bytes (no UDH), with the alphabet.
struct Split {
    coding: Coding,
    data_coding: DataCoding,
    units: usize,
    parts: Vec<Vec<u8>>,
}

/// Chooses the alphabet and splits `text` for the configured concatenation mode.
fn split(text: &str, config: &EncodingConfig) -> Result<Split, EncodingError> {
    if text.trim().is_empty() {
        return Err(EncodingError::Empty);
    }
    let header = config.concatenation.header_octets();
    // rusmpp refuses more than 255 parts itself; report that as too many parts too.
    let too_many = |parts: usize, coding: Coding, units: usize| EncodingError::TooManyParts {
        parts,
        max: config.max_parts,
        coding,
        units,
    };
    let (coding, result) = if let Ok(septets) = Gsm7BitUnpacked::new().encode_to_vec(text) {
        let result = UnpackedGsm::default()
            .concatenate(text, GSM_SINGLE, header)
            .map_err(|e| match e {
                Gsm7BitConcatenateError::PartsCountExceeded { actual, .. } => {
                    too_many(actual, Coding::Gsm7, septets.len())
                }
                other => EncodingError::Split(other.to_string()),
            });
        (Coding::Gsm7, result)
    } else {
        if let Some((position, character)) = text
            .chars()
            .enumerate()
            .find(|(_, c)| u32::from(*c) > 0xFFFF)
        {
            return Err(EncodingError::UnsupportedCharacter {
                character,
                position,
            });
        }
        let result = Ucs2::new()
            .concatenate(text, OCTETS_SINGLE, header)
            .map_err(|e| match e {
                Ucs2ConcatenateError::PartsCountExceeded { actual, .. } => {
                    too_many(actual, Coding::Ucs2, text.encode_utf16().count())
                }
                other => EncodingError::Split(other.to_string()),
            });
        (Coding::Ucs2, result)
    };
    let (concatenation, data_coding) = result?;
    let parts = match concatenation {
        Concatenation::Single(bytes) => vec![bytes],
        Concatenation::Concatenated(parts) => parts,
    };
    let octets: usize = parts.iter().map(Vec::len).sum();
    let units = match coding {
        Coding::Gsm7 => octets,
        Coding::Ucs2 => octets / 2,
    };
    Ok(Split {
        coding,
        data_coding,
        units,
        parts,
    })
}

/// Checks a split against `max_parts` and describes it.
fn plan_of(split: &Split, config: &EncodingConfig) -> Result<Plan, EncodingError> {
    let parts = split.parts.len();
    if parts > usize::from(config.max_parts) {
        return Err(EncodingError::TooManyParts {
            parts,
            max: config.max_parts,
            coding: split.coding,
            units: split.units,
        });
    }
    let header = config.concatenation.header_octets();
    let part_capacity = match (split.coding, parts) {
        (Coding::Gsm7, 1) => GSM_SINGLE,
        (Coding::Gsm7, _) => GSM_SINGLE - (header * 8).div_ceil(7),
        (Coding::Ucs2, 1) => OCTETS_SINGLE / 2,
        (Coding::Ucs2, _) => (OCTETS_SINGLE - header) / 2,
    };
    Ok(Plan {
        coding: split.coding,
        units: split.units,
        parts,
        part_capacity,
    })
}

/// Decides how `text` will be sent: alphabet, length and number of parts. Refuses empty
/// text, characters SMS cannot carry and texts longer than `max_parts`.
pub fn plan(text: &str, config: &EncodingConfig) -> Result<Plan, EncodingError> {
    plan_of(&split(text, config)?, config)
}

/// Builds the ready-to-send submit_sm PDUs for `text`: one per part, each a copy of `base`
/// (addresses, registered_delivery, validity, TLVs…) with `short_message`, `data_coding` and,
/// for UDH concatenation, the UDHI bit of `esm_class` set.
///
/// `reference` ties the parts together; [`ConcatMode::Udh8`] uses its low byte. Pick a
/// different reference for each concurrent multipart message to the same recipient.
pub fn build_submits(
    base: SubmitSm,
    text: &str,
    reference: u16,
    config: &EncodingConfig,
) -> Result<Vec<SubmitSm>, EncodingError> {
    let split = split(text, config)?;
    let plan = plan_of(&split, config)?;
    let split_error = |e: &dyn fmt::Display| EncodingError::Split(e.to_string());
    let [low_byte, _] = reference.to_le_bytes();
    let built = match (config.concatenation, plan.coding) {
        (ConcatMode::Sar, _) => return sar_parts(base, split, reference),
        (ConcatMode::Udh8, Coding::Gsm7) => base
            .multipart(text)
            .reference_u8(low_byte)
            .max_short_message_size(GSM_SINGLE)
            .encoder(UnpackedGsm::default())
            .build()
            .map_err(|e| split_error(&e)),
        (ConcatMode::Udh16, Coding::Gsm7) => base
            .multipart(text)
            .reference_u16(reference)
            .max_short_message_size(GSM_SINGLE)
            .encoder(UnpackedGsm::default())
            .build()
            .map_err(|e| split_error(&e)),
        (ConcatMode::Udh8, Coding::Ucs2) => base
            .multipart(text)
            .reference_u8(low_byte)
            .ucs2()
            .build()
            .map_err(|e| split_error(&e)),
        (ConcatMode::Udh16, Coding::Ucs2) => base
            .multipart(text)
            .reference_u16(reference)
            .ucs2()
            .build()
            .map_err(|e| split_error(&e)),
    }?;
    if built.len() != plan.parts {
        return Err(EncodingError::Split(format!(
            "rusmpp made {} parts where {} were planned",
            built.len(),
            plan.parts
        )));
    }
    Ok(built)
}

/// Builds SAR-concatenated parts: no UDH in `short_message`, the `sar_*` TLVs instead.
///
/// rusmpp's `extra` only builds UDH concatenation, so the SAR TLVs are set here on parts
/// split by the same rusmpp encoders.
fn sar_parts(base: SubmitSm, split: Split, reference: u16) -> Result<Vec<SubmitSm>, EncodingError> {
    let total = split.parts.len();
    let total_u8 = u8::try_from(total)
        .map_err(|_| EncodingError::Split(format!("{total} parts do not fit SAR's 255")))?;
    split
        .parts
        .into_iter()
        .zip(1..=total_u8)
        .map(|(bytes, seqnum)| {
            let short_message =
                OctetString::from_vec(bytes).map_err(|e| EncodingError::Split(e.to_string()))?;
            let mut sm = base
                .clone()
                .with_short_message(short_message)
                .with_data_coding(split.data_coding);
            if total > 1 {
                sm.push_tlv(MessageSubmissionRequestTlvValue::SarMsgRefNum(reference));
                sm.push_tlv(MessageSubmissionRequestTlvValue::SarTotalSegments(total_u8));
                sm.push_tlv(MessageSubmissionRequestTlvValue::SarSegmentSeqnum(seqnum));
            }
            Ok(sm)
        })
        .collect()
}

#[cfg(test)]
mod tests;
