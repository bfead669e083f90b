//! Mobile-originated messages: a subscriber's text as one or more deliver_sm.

use rusmpp::pdus::DeliverSm;
use rusmpp::types::OctetString;
use rusmpp::values::{DataCoding, EsmClass};

use crate::receipt::address;
use crate::text;
use crate::udh;

/// Builds the deliver_sm parts of a message from `from` (the subscriber) to `to` (the service
/// number): GSM 7-bit when it fits, UCS-2 otherwise, concatenated with an 8-bit UDH reference
/// when longer than one SMS.
pub fn build(from: &str, to: &str, body: &str, reference: u8) -> Result<Vec<DeliverSm>, String> {
    if from.is_empty() {
        return Err("the sender number is empty".into());
    }
    let (source, source_ton, source_npi) = address(from)?;
    let (dest, dest_ton, dest_npi) = address(to)?;
    let encoded = text::encode_for_sms(body)?;
    let total = u8::try_from(encoded.parts.len()).map_err(|_| "text too long".to_string())?;
    let mut pdus = Vec::with_capacity(encoded.parts.len());
    for (index, part) in encoded.parts.into_iter().enumerate() {
        let (esm_class, payload) = if total > 1 {
            let mut payload = udh::concat_header(reference, total, index as u8 + 1).to_vec();
            payload.extend_from_slice(&part);
            (0x40, payload)
        } else {
            (0x00, part)
        };
        let short_message =
            OctetString::from_vec(payload).map_err(|e| format!("part too long: {e:?}"))?;
        pdus.push(
            DeliverSm::builder()
                .source_addr_ton(source_ton)
                .source_addr_npi(source_npi)
                .source_addr(source.clone())
                .dest_addr_ton(dest_ton)
                .dest_addr_npi(dest_npi)
                .destination_addr(dest.clone())
                .esm_class(EsmClass::from(esm_class))
                .data_coding(DataCoding::from(encoded.data_coding))
                .short_message(short_message)
                .build(),
        );
    }
    Ok(pdus)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_kazakh_reply_is_one_ucs2_part() {
        let pdus = build("77011234567", "1414", "Иә", 1).unwrap();
        assert_eq!(pdus.len(), 1);
        assert_eq!(u8::from(pdus[0].data_coding), 0x08);
        assert_eq!(pdus[0].short_message().as_ref(), &[0x04, 0x18, 0x04, 0xD9]);
    }

    #[test]
    fn long_text_is_concatenated() {
        let pdus = build("77011234567", "egov", &"a".repeat(400), 9).unwrap();
        assert_eq!(pdus.len(), 3);
        assert!(pdus.iter().all(|p| u8::from(p.esm_class) == 0x40));
        assert_eq!(&pdus[2].short_message().as_ref()[..6], &[5, 0, 3, 9, 3, 3]);
    }

    #[test]
    fn empty_sender_is_refused() {
        assert!(build("", "1414", "x", 0).is_err());
    }
}
