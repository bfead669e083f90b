//! The octets of injected PDU bodies (everything after the 16-octet header).

use bytes::{BufMut, Bytes, BytesMut};

use super::{LARGE_DELIVER_MAX, LARGE_DELIVER_MIN, PADDING_TLV_TAG};

/// Source and destination of the large mobile-originated deliver_sm.
const LARGE_SOURCE: &[u8] = b"77010000099";
const LARGE_DESTINATION: &[u8] = b"1414";
/// What the large deliver_sm's text repeats.
const LARGE_TEXT: &[u8] = b"large MO payload 0123456789 ";
/// Fixed part of the large deliver_sm: the 16-octet header and every mandatory field with an
/// empty short_message.
const FIXED_OCTETS: usize = 16 + 1 + 2 + 12 + 2 + 5 + 3 + 1 + 1 + 5;
/// message_payload's tag.
const MESSAGE_PAYLOAD_TAG: u16 = 0x0424;

fn put_tlv(body: &mut BytesMut, tag: u16, len: usize) {
    body.put_u16(tag);
    body.put_u16(u16::try_from(len).unwrap_or(u16::MAX));
    let mut left = len;
    while left > 0 {
        let n = left.min(LARGE_TEXT.len());
        body.extend_from_slice(&LARGE_TEXT[..n]);
        left -= n;
    }
}

/// The mandatory fields of a mobile-originated deliver_sm (esm_class 0, data_coding 0) with an
/// empty short_message, or with `sm_length` announced over `short_message`.
fn mo_fields(body: &mut BytesMut, sm_length: u8, short_message: &[u8]) {
    body.put_u8(0); // service_type ""
    body.put_u8(1); // source TON international
    body.put_u8(1); // source NPI ISDN
    body.extend_from_slice(LARGE_SOURCE);
    body.put_u8(0);
    body.put_u8(0); // destination TON unknown
    body.put_u8(1); // destination NPI ISDN
    body.extend_from_slice(LARGE_DESTINATION);
    body.put_u8(0);
    body.put_u8(0); // esm_class
    body.put_u8(0); // protocol_id
    body.put_u8(0); // priority_flag
    body.put_u8(0); // schedule_delivery_time ""
    body.put_u8(0); // validity_period ""
    body.put_u8(0); // registered_delivery
    body.put_u8(0); // replace_if_present_flag
    body.put_u8(0); // data_coding
    body.put_u8(0); // sm_default_msg_id
    body.put_u8(sm_length);
    body.extend_from_slice(short_message);
}

/// The body (everything after the 16-octet header) of a legal mobile-originated deliver_sm of
/// exactly `octets` octets: the text in message_payload, and beyond 65,535 octets of text the
/// rest in a vendor-specific [`PADDING_TLV_TAG`] TLV. `octets` must pass [`super::check_large`].
pub(crate) fn large_deliver_body(octets: usize) -> Bytes {
    let octets = octets.clamp(LARGE_DELIVER_MIN, LARGE_DELIVER_MAX);
    let mut body = BytesMut::with_capacity(octets - 16);
    mo_fields(&mut body, 0, &[]);
    let tlv_octets = octets - FIXED_OCTETS;
    if tlv_octets - 4 <= usize::from(u16::MAX) {
        put_tlv(&mut body, MESSAGE_PAYLOAD_TAG, tlv_octets - 4);
    } else {
        let text = (tlv_octets - 8).min(usize::from(u16::MAX));
        put_tlv(&mut body, MESSAGE_PAYLOAD_TAG, text);
        put_tlv(&mut body, PADDING_TLV_TAG, tlv_octets - 8 - text);
    }
    body.freeze()
}

/// The body of a deliver_sm that cannot be parsed: sm_length 200, then 9 octets.
pub(crate) fn malformed_deliver_body() -> Bytes {
    let mut body = BytesMut::new();
    mo_fields(&mut body, 200, b"malformed");
    body.freeze()
}

/// A C-octet string body (`message_id` of a submit_sm_resp).
pub(crate) fn c_string(text: &str) -> Bytes {
    let mut body = BytesMut::with_capacity(text.len() + 1);
    body.extend_from_slice(text.as_bytes());
    body.put_u8(0);
    body.freeze()
}

/// The body of a query_sm_resp: message_id, empty final_date, DELIVERED, error_code 0.
pub(crate) fn query_sm_resp_body(message_id: &str) -> Bytes {
    let mut body = BytesMut::new();
    body.extend_from_slice(message_id.as_bytes());
    body.put_u8(0);
    body.put_u8(0); // final_date ""
    body.put_u8(2); // message_state DELIVERED
    body.put_u8(0); // error_code
    body.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Frame, FrameCodec};
    use rusmpp::Pdu;
    use rusmpp::tlvs::TlvValue;
    use tokio_util::codec::Decoder;

    fn framed(command_id: u32, body: &[u8]) -> BytesMut {
        let mut raw = BytesMut::new();
        raw.put_u32((16 + body.len()) as u32);
        raw.put_u32(command_id);
        raw.put_u32(0);
        raw.put_u32(9);
        raw.extend_from_slice(body);
        raw
    }

    #[test]
    fn large_deliver_sm_is_legal_and_exactly_the_size_asked() {
        for octets in [LARGE_DELIVER_MIN, 100, 5000, 65_587, 65_588, 65_591, 70_000] {
            let body = large_deliver_body(octets);
            assert_eq!(body.len() + 16, octets);
            let mut raw = framed(0x0000_0005, &body);
            let frame = FrameCodec::new(LARGE_DELIVER_MAX).decode(&mut raw).unwrap();
            let Some(Frame::Command(command)) = frame else {
                panic!("{octets} octets do not decode: {frame:?}");
            };
            let Some(Pdu::DeliverSm(sm)) = command.pdu() else {
                panic!("not a deliver_sm");
            };
            assert_eq!(sm.source_addr.as_str(), "77010000099");
            assert_eq!(sm.destination_addr.as_str(), "1414");
            assert!(sm.short_message().as_ref().is_empty());
            let payload = sm.tlvs().iter().find_map(|t| match t.value() {
                Some(TlvValue::MessagePayload(p)) => Some(p.value.as_ref().to_vec()),
                _ => None,
            });
            let payload = payload.expect("a message_payload");
            let expected: Vec<u8> = LARGE_TEXT
                .iter()
                .copied()
                .cycle()
                .take(payload.len())
                .collect();
            assert_eq!(payload, expected, "repeated ASCII text");
        }
    }

    #[test]
    fn malformed_deliver_sm_keeps_its_framing_but_not_its_body() {
        let body = malformed_deliver_body();
        let mut raw = framed(0x0000_0005, &body);
        let frame = FrameCodec::new(1024).decode(&mut raw).unwrap();
        assert!(matches!(frame, Some(Frame::Malformed { .. })), "{frame:?}");
        assert!(raw.is_empty(), "the frame was read whole");
    }
}
