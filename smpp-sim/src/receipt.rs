//! Delivery outcomes and the receipts that report them.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use chrono::{DateTime, Datelike, Local, Timelike};
use rand::Rng;
use rusmpp::pdus::DeliverSm;
use rusmpp::tlvs::MessageDeliveryRequestTlvValue;
use rusmpp::types::{COctetString, OctetString};
use rusmpp::values::{DataCoding, EsmClass, MessageState, Npi, Ton};

use crate::config::ReceiptConfig;
use crate::submit::TestNumber;
use crate::text::{self, Coding};

/// How a message ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinalState {
    /// Reached the handset (DELIVRD).
    Delivered,
    /// Could not be delivered (UNDELIV).
    Undeliverable,
    /// Validity ran out first (EXPIRED).
    Expired,
    /// Refused by the network (REJECTD).
    Rejected,
}

impl FinalState {
    /// The `stat:` word of the receipt text.
    pub fn stat(self) -> &'static str {
        match self {
            Self::Delivered => "DELIVRD",
            Self::Undeliverable => "UNDELIV",
            Self::Expired => "EXPIRED",
            Self::Rejected => "REJECTD",
        }
    }

    /// The `err:` code of the receipt text.
    pub fn err(self) -> &'static str {
        match self {
            Self::Delivered => "000",
            Self::Undeliverable => "001",
            Self::Rejected => "002",
            Self::Expired => "003",
        }
    }

    /// The message_state TLV value.
    pub fn message_state(self) -> MessageState {
        match self {
            Self::Delivered => MessageState::Delivered,
            Self::Undeliverable => MessageState::Undeliverable,
            Self::Expired => MessageState::Expired,
            Self::Rejected => MessageState::Rejected,
        }
    }
}

/// What will happen to one accepted part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// The final state, or `None` when the message never leaves ENROUTE (test number …0001).
    pub state: Option<FinalState>,
    /// When, counted from the submit.
    pub after: Duration,
}

/// Decides the outcome of a part from its test number, the outcome mix and its validity.
pub fn plan(config: &ReceiptConfig, test: Option<TestNumber>, validity: Option<Duration>) -> Plan {
    let mut rng = rand::rng();
    let after = Duration::from_millis(if config.max_delay_ms > config.min_delay_ms {
        rng.random_range(config.min_delay_ms..=config.max_delay_ms)
    } else {
        config.min_delay_ms
    });
    let state = match test {
        Some(TestNumber::Undeliverable) => Some(FinalState::Undeliverable),
        Some(TestNumber::NoReceipt) => None,
        Some(TestNumber::Rejected) => Some(FinalState::Rejected),
        Some(TestNumber::Expired) => Some(FinalState::Expired),
        Some(TestNumber::Refused) | None => Some(pick(config, &mut rng)),
    };
    let validity = validity.unwrap_or(Duration::from_secs(config.default_validity_secs));
    match state {
        Some(_) if after > validity => Plan {
            state: Some(FinalState::Expired),
            after: validity,
        },
        state => Plan { state, after },
    }
}

fn pick(config: &ReceiptConfig, rng: &mut impl Rng) -> FinalState {
    let m = &config.outcomes;
    let total = m.delivered + m.undeliverable + m.expired + m.rejected;
    if m.delivered >= total {
        return FinalState::Delivered;
    }
    let mut roll = rng.random::<f64>() * total;
    for (weight, state) in [
        (m.delivered, FinalState::Delivered),
        (m.undeliverable, FinalState::Undeliverable),
        (m.expired, FinalState::Expired),
    ] {
        if roll < weight {
            return state;
        }
        roll -= weight;
    }
    FinalState::Rejected
}

/// `YYMMDDhhmm` (written by hand: chrono's `format` parses its pattern on every call).
fn receipt_date(t: DateTime<Local>) -> String {
    format!(
        "{:02}{:02}{:02}{:02}{:02}",
        t.year().rem_euclid(100),
        t.month(),
        t.day(),
        t.hour(),
        t.minute()
    )
}

/// The standard receipt text (SMPP 3.4 appendix B).
pub fn receipt_text(
    message_id: &str,
    state: FinalState,
    submitted: DateTime<Local>,
    done: DateTime<Local>,
    text: &str,
) -> String {
    let delivered = u8::from(state == FinalState::Delivered);
    let excerpt: String = text
        .chars()
        .take(20)
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                '?'
            }
        })
        .collect();
    format!(
        "id:{message_id} sub:001 dlvrd:{delivered:03} submit date:{} done date:{} stat:{} err:{} text:{excerpt}",
        receipt_date(submitted),
        receipt_date(done),
        state.stat(),
        state.err(),
    )
}

/// An address field; numbers are international/ISDN, anything else alphanumeric.
pub fn address(addr: &str) -> Result<(COctetString<1, 21>, Ton, Npi), String> {
    let field = COctetString::from_string(addr.to_string())
        .map_err(|e| format!("address {addr:?}: {e:?}"))?;
    let digits = addr.strip_prefix('+').unwrap_or(addr);
    if addr.is_empty() {
        Ok((field, Ton::Unknown, Npi::Unknown))
    } else if digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok((field, Ton::International, Npi::Isdn))
    } else {
        Ok((field, Ton::Alphanumeric, Npi::Unknown))
    }
}

/// What a receipt reports.
#[derive(Debug, Clone)]
pub struct ReceiptJob {
    /// The message id given in submit_sm_resp.
    pub message_id: String,
    /// source_addr of the submit (the receipt goes to it).
    pub source: String,
    /// destination_addr of the submit (the receipt comes from it).
    pub destination: String,
    /// The final state.
    pub state: FinalState,
    /// When the submit arrived.
    pub submitted: SystemTime,
    /// When the outcome happened.
    pub done: SystemTime,
    /// The part's octets (the receipt carries its first 20 characters)...
    pub payload: Bytes,
    /// ...and how they read.
    pub coding: Coding,
}

/// The decimal form of a hexadecimal message id (`0A1B` gives `2587`), as SMSCs that report
/// ids in decimal write them in receipts; an id that is not hexadecimal (or longer than 32
/// digits) is returned unchanged.
pub fn decimal_id(hex: &str) -> String {
    u128::from_str_radix(hex, 16)
        .map(|n| n.to_string())
        .unwrap_or_else(|_| hex.to_string())
}

/// Builds the deliver_sm of a receipt: esm_class 0x04, the standard text, and the
/// receipted_message_id and message_state TLVs.
pub fn build_receipt(job: &ReceiptJob) -> Result<DeliverSm, String> {
    build(job, true)
}

/// [`build_receipt`], with or without the receipted_message_id TLV.
pub(crate) fn build(job: &ReceiptJob, receipted_id: bool) -> Result<DeliverSm, String> {
    let (source, source_ton, source_npi) = address(&job.destination)?;
    let (dest, dest_ton, dest_npi) = address(&job.source)?;
    let part_text = text::decode(job.coding, &job.payload[..job.payload.len().min(80)]);
    let text = receipt_text(
        &job.message_id,
        job.state,
        job.submitted.into(),
        job.done.into(),
        &part_text,
    );
    let short_message =
        OctetString::from_vec(text.into_bytes()).map_err(|e| format!("receipt text: {e:?}"))?;
    let id = COctetString::from_string(job.message_id.clone())
        .map_err(|e| format!("receipted id: {e:?}"))?;
    let mut sm = DeliverSm::builder()
        .source_addr_ton(source_ton)
        .source_addr_npi(source_npi)
        .source_addr(source)
        .dest_addr_ton(dest_ton)
        .dest_addr_npi(dest_npi)
        .destination_addr(dest)
        .esm_class(EsmClass::from(0x04))
        .data_coding(DataCoding::from(0x00))
        .short_message(short_message)
        .build();
    if receipted_id {
        sm.push_tlv(MessageDeliveryRequestTlvValue::ReceiptedMessageId(id));
    }
    sm.push_tlv(MessageDeliveryRequestTlvValue::MessageState(
        job.state.message_state(),
    ));
    Ok(sm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::OutcomeMix;

    fn config(min: u64, max: u64) -> ReceiptConfig {
        ReceiptConfig {
            min_delay_ms: min,
            max_delay_ms: max,
            ..ReceiptConfig::default()
        }
    }

    #[test]
    fn test_numbers_override_the_mix() {
        let c = config(0, 0);
        assert_eq!(
            plan(&c, Some(TestNumber::Undeliverable), None).state,
            Some(FinalState::Undeliverable)
        );
        assert_eq!(plan(&c, Some(TestNumber::NoReceipt), None).state, None);
        assert_eq!(plan(&c, None, None).state, Some(FinalState::Delivered));
    }

    #[test]
    fn validity_shorter_than_delay_expires() {
        let p = plan(&config(500, 500), None, Some(Duration::from_millis(100)));
        assert_eq!(p.state, Some(FinalState::Expired));
        assert_eq!(p.after, Duration::from_millis(100));
    }

    #[test]
    fn mix_with_only_rejections_rejects() {
        let c = ReceiptConfig {
            outcomes: OutcomeMix {
                delivered: 0.0,
                rejected: 1.0,
                ..OutcomeMix::default()
            },
            ..config(0, 0)
        };
        assert_eq!(plan(&c, None, None).state, Some(FinalState::Rejected));
    }

    #[test]
    fn decimal_ids() {
        assert_eq!(decimal_id("0A1B"), "2587");
        assert_eq!(
            decimal_id("19a8f3c2b1d0000002a"),
            u128::from_str_radix("19a8f3c2b1d0000002a", 16)
                .unwrap()
                .to_string()
        );
        assert_eq!(decimal_id("not-hex"), "not-hex");
    }

    #[test]
    fn receipt_text_has_the_standard_fields() {
        let t = Local::now();
        let text = receipt_text("abc", FinalState::Delivered, t, t, "Сәлем hello");
        let date = t.format("%y%m%d%H%M").to_string();
        assert_eq!(
            text,
            format!(
                "id:abc sub:001 dlvrd:001 submit date:{date} done date:{date} stat:DELIVRD err:000 text:????? hello"
            )
        );
    }
}
