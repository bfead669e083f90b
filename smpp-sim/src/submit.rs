//! The checks a real SMSC applies to submit_sm, turning a valid PDU into a [`Submission`].

use std::time::Duration;

use bytes::Bytes;
use chrono::{NaiveDate, Utc};
use rusmpp::CommandStatus;
use rusmpp::pdus::SubmitSm;
use rusmpp::tlvs::TlvValue;

use crate::text::Coding;
use crate::udh::{self, Concat};

/// Which receipt the ESME asked for in registered_delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptRequest {
    /// No receipt.
    None,
    /// A receipt whatever the outcome.
    Always,
    /// A receipt only when delivery failed.
    FailureOnly,
    /// A receipt only when delivered (SMPP 5.0).
    SuccessOnly,
}

impl ReceiptRequest {
    /// Whether a message ending in `delivered` gets a receipt.
    pub fn wants(self, delivered: bool) -> bool {
        match self {
            Self::None => false,
            Self::Always => true,
            Self::FailureOnly => !delivered,
            Self::SuccessOnly => delivered,
        }
    }
}

/// A submit_sm that passed every check.
#[derive(Debug, Clone)]
pub struct Submission {
    /// source_addr (may be alphanumeric or empty).
    pub source: String,
    /// destination_addr (digits, perhaps with a leading `+`).
    pub destination: String,
    /// The data_coding value.
    pub data_coding: u8,
    /// How the payload reads.
    pub coding: Coding,
    /// The message octets after any user data header.
    pub payload: Bytes,
    /// Concatenation information from the UDH or the SAR TLVs.
    pub concat: Option<Concat>,
    /// The receipt asked for.
    pub receipt: ReceiptRequest,
    /// Time left until validity_period ends, when one was given.
    pub validity: Option<Duration>,
}

/// Checks `sm` the way an SMSC does; the error is the submit_sm_resp status.
pub fn check(sm: &SubmitSm) -> Result<Submission, CommandStatus> {
    let destination = sm.destination_addr.as_str();
    let digits = destination.strip_prefix('+').unwrap_or(destination);
    if digits.is_empty()
        || digits.len() > 20
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || u8::from(sm.dest_addr_ton) == 5
    {
        return Err(CommandStatus::EsmeRinvdstadr);
    }
    let data_coding = u8::from(sm.data_coding);
    let coding = Coding::from_data_coding(data_coding).ok_or(CommandStatus::EsmeRinvdcs)?;

    let mut payload_tlv = None;
    let (mut sar_ref, mut sar_total, mut sar_seq) = (None, None, None);
    for tlv in sm.tlvs() {
        match tlv.value() {
            Some(TlvValue::MessagePayload(p)) => payload_tlv = Some(p.value.clone()),
            Some(TlvValue::SarMsgRefNum(v)) => sar_ref = Some(*v),
            Some(TlvValue::SarTotalSegments(v)) => sar_total = Some(*v),
            Some(TlvValue::SarSegmentSeqnum(v)) => sar_seq = Some(*v),
            _ => {}
        }
    }
    let payload: Bytes = match payload_tlv {
        Some(_) if sm.sm_length() != 0 => return Err(CommandStatus::EsmeRinvmsglen),
        Some(p) => p.into_bytes(),
        None => sm.short_message().clone().into_bytes(),
    };

    let esm_class = u8::from(sm.esm_class);
    let (payload, mut concat) = if esm_class & 0x40 != 0 {
        let header = udh::parse(&payload).map_err(|_| CommandStatus::EsmeRinvesmclass)?;
        (payload.slice(header.len..), header.concat)
    } else {
        (payload, None)
    };
    match (sar_ref, sar_total, sar_seq) {
        (None, None, None) => {}
        (Some(reference), Some(total), Some(seq)) => {
            if total == 0 || seq == 0 || seq > total {
                return Err(CommandStatus::EsmeRinvtlvval);
            }
            if concat.is_some() {
                return Err(CommandStatus::EsmeRinvtlvstream);
            }
            concat = Some(Concat {
                reference,
                total,
                seq,
            });
        }
        _ => return Err(CommandStatus::EsmeRmissingtlv),
    }
    if !coding.length_ok(payload.len()) {
        return Err(CommandStatus::EsmeRinvmsglen);
    }

    let receipt = match u8::from(sm.registered_delivery) & 0x03 {
        0 => ReceiptRequest::None,
        1 => ReceiptRequest::Always,
        2 => ReceiptRequest::FailureOnly,
        _ => ReceiptRequest::SuccessOnly,
    };
    let validity = parse_validity(sm.validity_period.as_str())?;

    Ok(Submission {
        source: sm.source_addr.as_str().to_string(),
        destination: destination.to_string(),
        data_coding,
        coding,
        payload,
        concat,
        receipt,
        validity,
    })
}

/// Parses an SMPP time (`YYMMDDhhmmsstnnp`) as the time left from now: relative (`p` = `R`) or
/// absolute (`p` = `+`/`-` with `nn` quarter hours from UTC). Empty means "SMSC default".
pub fn parse_validity(text: &str) -> Result<Option<Duration>, CommandStatus> {
    if text.is_empty() {
        return Ok(None);
    }
    let bad = CommandStatus::EsmeRinvexpiry;
    let b = text.as_bytes();
    if b.len() != 16 || !b[..15].iter().all(u8::is_ascii_digit) {
        return Err(bad);
    }
    let num = |i: usize| u32::from(b[i] - b'0') * 10 + u32::from(b[i + 1] - b'0');
    let (yy, mo, dd, hh, mi, ss) = (num(0), num(2), num(4), num(6), num(8), num(10));
    match b[15] {
        b'R' => {
            let days = u64::from(yy) * 365 + u64::from(mo) * 30 + u64::from(dd);
            let secs = days * 86_400 + u64::from(hh) * 3600 + u64::from(mi) * 60 + u64::from(ss);
            Ok(Some(Duration::from_secs(secs)))
        }
        sign @ (b'+' | b'-') => {
            let tenths = u32::from(b[12] - b'0');
            let quarters = i64::from(num(13));
            let local = NaiveDate::from_ymd_opt(2000 + yy as i32, mo, dd)
                .and_then(|d| d.and_hms_milli_opt(hh, mi, ss, tenths * 100))
                .ok_or(bad)?;
            let offset = chrono::Duration::minutes(quarters * 15);
            let utc = if sign == b'+' {
                local - offset
            } else {
                local + offset
            };
            let left = utc.and_utc() - Utc::now();
            Ok(Some(left.to_std().unwrap_or(Duration::ZERO)))
        }
        _ => Err(bad),
    }
}

/// The fixed outcome of a documented test number (last four digits), if it is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestNumber {
    /// …0000: always UNDELIV.
    Undeliverable,
    /// …0001: accepted, but no receipt ever.
    NoReceipt,
    /// …0002: always REJECTD.
    Rejected,
    /// …0003: always EXPIRED.
    Expired,
    /// …0004: submit_sm refused with ESME_RINVDSTADR.
    Refused,
}

impl TestNumber {
    /// Classifies a destination by its last four digits.
    pub fn of(destination: &str) -> Option<Self> {
        let tail = destination.get(destination.len().checked_sub(4)?..)?;
        match tail {
            "0000" => Some(Self::Undeliverable),
            "0001" => Some(Self::NoReceipt),
            "0002" => Some(Self::Rejected),
            "0003" => Some(Self::Expired),
            "0004" => Some(Self::Refused),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_validity() {
        assert_eq!(
            parse_validity("000000000130000R").unwrap(),
            Some(Duration::from_secs(90))
        );
        assert_eq!(parse_validity("").unwrap(), None);
        assert!(parse_validity("0000000001300").is_err());
    }

    #[test]
    fn absolute_validity_in_the_past_is_zero_and_future_is_positive() {
        assert_eq!(
            parse_validity("200101000000000+").unwrap(),
            Some(Duration::ZERO)
        );
        let future = (Utc::now() + chrono::Duration::hours(2)).format("%y%m%d%H%M%S000+");
        let left = parse_validity(&future.to_string()).unwrap().unwrap();
        assert!(left > Duration::from_secs(3600) && left <= Duration::from_secs(7200));
        // Two hours ahead expressed in UTC+05:00 (20 quarter hours).
        let almaty = (Utc::now() + chrono::Duration::hours(7)).format("%y%m%d%H%M%S020+");
        let left = parse_validity(&almaty.to_string()).unwrap().unwrap();
        assert!(left > Duration::from_secs(3600) && left <= Duration::from_secs(7200));
    }

    #[test]
    fn test_numbers() {
        assert_eq!(
            TestNumber::of("77010000000"),
            Some(TestNumber::Undeliverable)
        );
        assert_eq!(TestNumber::of("77010000004"), Some(TestNumber::Refused));
        assert_eq!(TestNumber::of("77011234567"), None);
        assert_eq!(TestNumber::of("1"), None);
    }
}
