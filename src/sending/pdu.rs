//! Turning a stored message into the submit_sm PDUs of its parts for one operator.

use crate::encoding::{EncodingConfig, build_submits};
use crate::message::{Kind, Message, Millis};
use crate::sessions::OperatorConfig;
use chrono::{DateTime, Utc};
use rusmpp::pdus::SubmitSm;
use rusmpp::types::{COctetString, EmptyOrFullCOctetString};
use rusmpp::values::{Npi, PriorityFlag, RegisteredDelivery, Ton};
use std::str::FromStr;

/// Why a message cannot be put on the wire (a permanent failure: it becomes `rejected`).
#[derive(Debug, thiserror::Error)]
pub enum PduError {
    /// An address does not fit SMPP's limits.
    #[error("invalid {field}: {why}")]
    Address {
        /// `source_addr` or `destination_addr`.
        field: &'static str,
        /// What is wrong.
        why: String,
    },
    /// The text cannot be encoded or split.
    #[error("{0}")]
    Encoding(String),
    /// The text was erased before the message could be sent.
    #[error("the text is no longer stored")]
    NoText,
}

/// The submit_sm of every part of `message` for `operator`: registered delivery, validity
/// from the message's deadline (so an OTP never arrives after it expired), the OTP lane's
/// priority, the operator's sender and concatenation with `reference` (see [`super::concat`]).
pub fn parts_for(
    message: &Message,
    operator: &OperatorConfig,
    encoding: &EncodingConfig,
    now: Millis,
    reference: u16,
) -> Result<Vec<SubmitSm>, PduError> {
    let text = message.text.as_deref().ok_or(PduError::NoText)?;
    let source = message.sender.as_deref().unwrap_or(&operator.source_addr);
    let (ton, npi) = operator.source_ton_npi(source);
    let address = |field: &'static str, value: &str| {
        COctetString::from_str(value).map_err(|e| PduError::Address {
            field,
            why: e.to_string(),
        })
    };
    let mut base = SubmitSm::builder()
        .source_addr_ton(Ton::from(ton))
        .source_addr_npi(Npi::from(npi))
        .source_addr(address("source_addr", source)?)
        .dest_addr_ton(Ton::International)
        .dest_addr_npi(Npi::Isdn)
        .destination_addr(address("destination_addr", &message.recipient)?)
        .registered_delivery(RegisteredDelivery::request_all());
    if let Some(until) = validity(message) {
        base = base.validity_period(smpp_time(until.max(now + 1_000)));
    }
    if message.kind == Kind::Otp && operator.otp_priority {
        base = base.priority_flag(PriorityFlag::from(1));
    }
    let config = EncodingConfig {
        concatenation: operator.concatenation,
        ..*encoding
    };
    build_submits(base.build(), text, reference, &config)
        .map_err(|e| PduError::Encoding(e.to_string()))
}

/// How long the SMSC may keep trying: an OTP until its code expires (`receipt_by`), any
/// other message until its `receipt_by` when it has one.
fn validity(message: &Message) -> Option<Millis> {
    message.receipt_by
}

/// SMPP absolute time `YYMMDDhhmmsstnnp` in UTC.
fn smpp_time(at: Millis) -> EmptyOrFullCOctetString<17> {
    let text = DateTime::<Utc>::from_timestamp_millis(at)
        .map(|t| t.format("%y%m%d%H%M%S000+").to_string())
        .unwrap_or_default();
    EmptyOrFullCOctetString::from_str(&text).unwrap_or_else(|_| EmptyOrFullCOctetString::empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_is_absolute_utc_time() {
        let t = smpp_time(1_767_225_600_000); // 2026-01-01T00:00:00Z
        assert_eq!(t.to_string(), "260101000000000+");
    }
}
