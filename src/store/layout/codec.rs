//! Value encodings. Events and bookkeeping are a version byte followed by MessagePack with
//! field names, so fields can be added and a later release can migrate old versions. Message
//! records (version 2) are MessagePack without field names: field names were over half of a
//! record's bytes, and every record is rewritten at each step of its message; a field added
//! later goes at the end of its struct with `#[serde(default)]`, which older records lack, and
//! no field may skip serialising (the ones after it would shift). Chunks of ids, deadline
//! entries and reference pairs are packed fixed-width big-endian arrays: they are sliced,
//! searched and spliced in place, which a self-describing format would only slow down.

use crate::message::{Message, MessageId, Millis};
use crate::store::error::StoreError;
use serde::{Serialize, de::DeserializeOwned};

/// Reads a big-endian u64 at `at`, if the slice is long enough.
pub fn read_u64(bytes: &[u8], at: usize) -> Option<u64> {
    let slice = bytes.get(at..at + 8)?;
    Some(u64::from_be_bytes(slice.try_into().ok()?))
}

/// Version byte of message records: MessagePack with fields in declaration order.
pub const RECORD_VERSION: u8 = 2;
/// Version byte of message records written by earlier releases (with field names; still read).
pub const NAMED_RECORD_VERSION: u8 = 1;
/// Version byte of events.
pub const EVENT_VERSION: u8 = 1;
/// Version byte of the writer's bookkeeping.
pub const STATE_VERSION: u8 = 1;
/// Version byte of parked receipts.
pub const PARKED_VERSION: u8 = 1;

/// A receipt that matched no message part yet (`p/` keys): what it said and when.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ParkedReceipt {
    /// The receipt's state (`DELIVRD`, ...).
    pub stat: String,
    /// Its error code, when not zero.
    pub error: Option<String>,
    /// When it came.
    pub at: Millis,
    /// When it was parked (it is dropped once parked longer than the hold).
    pub parked_at: Millis,
}

impl ParkedReceipt {
    /// A receipt that came at `at`, about to be recorded or parked now.
    pub fn new(stat: &str, error: Option<&str>, at: Millis) -> ParkedReceipt {
        ParkedReceipt {
            stat: stat.to_owned(),
            error: error.map(str::to_owned),
            at,
            parked_at: crate::message::now_ms(),
        }
    }
}

/// Serialises a value as `version || msgpack(named fields)`.
pub fn encode<T: Serialize>(version: u8, value: &T) -> Result<Vec<u8>, StoreError> {
    let mut out = vec![version];
    rmp_serde::encode::write_named(&mut out, value)
        .map_err(|e| StoreError::Corrupt(format!("cannot encode: {e}")))?;
    Ok(out)
}

/// Reads a value written by [`encode`], refusing versions this release does not know.
pub fn decode<T: DeserializeOwned>(version: u8, bytes: &[u8], what: &str) -> Result<T, StoreError> {
    match bytes.split_first() {
        Some((&v, rest)) if v == version => rmp_serde::from_slice(rest)
            .map_err(|e| StoreError::Corrupt(format!("undecodable {what}: {e}"))),
        Some((&v, _)) => Err(StoreError::Corrupt(format!(
            "{what} has format version {v}, this release reads {version}"
        ))),
        None => Err(StoreError::Corrupt(format!("empty {what}"))),
    }
}

/// Encodes a message record (fields by position, see the module note).
pub fn encode_record(message: &Message) -> Result<Vec<u8>, StoreError> {
    let mut out = vec![RECORD_VERSION];
    rmp_serde::encode::write(&mut out, message)
        .map_err(|e| StoreError::Corrupt(format!("cannot encode: {e}")))?;
    Ok(out)
}

/// Decodes a message record of this release or of an earlier one (with field names).
pub fn decode_record(bytes: &[u8]) -> Result<Message, StoreError> {
    match bytes.first() {
        Some(&NAMED_RECORD_VERSION) => decode(NAMED_RECORD_VERSION, bytes, "message record"),
        _ => decode(RECORD_VERSION, bytes, "message record"),
    }
}

/// Packs ids into a queue chunk value.
pub fn pack_ids(ids: &[MessageId]) -> Vec<u8> {
    ids.iter().flat_map(|id| id.to_be_bytes()).collect()
}

/// Unpacks a queue chunk value.
pub fn unpack_ids(bytes: &[u8]) -> Vec<MessageId> {
    bytes
        .chunks_exact(8)
        .map(|c| MessageId(u64::from_be_bytes(c.try_into().unwrap_or_default())))
        .collect()
}

/// An intake chunk: encoded records of consecutive ids, packed as `(id, length, bytes)*`.
pub struct IntakeChunk {
    /// (id, encoded record) in id order.
    pub records: Vec<(MessageId, Vec<u8>)>,
}

impl IntakeChunk {
    /// Packs the chunk.
    pub fn encode(&self) -> Vec<u8> {
        let size = self.records.iter().map(|(_, r)| 12 + r.len()).sum();
        let mut out = Vec::with_capacity(size);
        for (id, record) in &self.records {
            out.extend_from_slice(&id.to_be_bytes());
            out.extend_from_slice(&(record.len() as u32).to_be_bytes());
            out.extend_from_slice(record);
        }
        out
    }

    /// Unpacks a chunk.
    pub fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        let mut records = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            let bad = || StoreError::Corrupt("truncated intake chunk".to_owned());
            let id = read_u64(bytes, at).ok_or_else(bad)?;
            let len = bytes.get(at + 8..at + 12).ok_or_else(bad)?;
            let len = u32::from_be_bytes(len.try_into().map_err(|_| bad())?) as usize;
            let record = bytes.get(at + 12..at + 12 + len).ok_or_else(bad)?;
            records.push((MessageId(id), record.to_vec()));
            at += 12 + len;
        }
        Ok(IntakeChunk { records })
    }

    /// The encoded record of `id`, if this chunk holds it (without decoding the others).
    pub fn find(bytes: &[u8], id: MessageId) -> Option<&[u8]> {
        let mut at = 0;
        while at < bytes.len() {
            let this = read_u64(bytes, at)?;
            let len = u32::from_be_bytes(bytes.get(at + 8..at + 12)?.try_into().ok()?) as usize;
            if this == id.0 {
                return bytes.get(at + 12..at + 12 + len);
            }
            if this > id.0 {
                return None;
            }
            at += 12 + len;
        }
        None
    }
}

/// Which deadline an entry of the deadline index stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DeadlineKind {
    /// `send_by`: a message still queued then expires.
    SendBy = 0,
    /// `receipt_by`: a message without a final receipt then raises `receipt_overdue`.
    ReceiptBy = 1,
    /// The final receipt timeout: a submitted message still without one becomes `unknown`.
    GiveUp = 2,
}

impl DeadlineKind {
    fn from_u8(v: u8) -> Option<Self> {
        match v {
            0 => Some(DeadlineKind::SendBy),
            1 => Some(DeadlineKind::ReceiptBy),
            2 => Some(DeadlineKind::GiveUp),
            _ => None,
        }
    }
}

/// One entry of the deadline index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DeadlineEntry {
    /// When it fires.
    pub when: Millis,
    /// What it is.
    pub kind: DeadlineKind,
    /// Whose it is.
    pub id: MessageId,
}

const DEADLINE_ENTRY_LEN: usize = 17;

/// Packs deadline entries (kept sorted by the caller).
pub fn pack_deadlines(entries: &[DeadlineEntry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.len() * DEADLINE_ENTRY_LEN);
    for e in entries {
        out.extend_from_slice(&(e.when.max(0) as u64).to_be_bytes());
        out.push(e.kind as u8);
        out.extend_from_slice(&e.id.to_be_bytes());
    }
    out
}

/// Unpacks deadline entries, skipping any of an unknown kind.
pub fn unpack_deadlines(bytes: &[u8]) -> Vec<DeadlineEntry> {
    bytes
        .chunks_exact(DEADLINE_ENTRY_LEN)
        .filter_map(|c| {
            Some(DeadlineEntry {
                when: read_u64(c, 0)? as Millis,
                kind: DeadlineKind::from_u8(c[8])?,
                id: MessageId(read_u64(c, 9)?),
            })
        })
        .collect()
}

/// Packs `(reference hash, id)` pairs of a reference bucket (kept sorted by the caller).
pub fn pack_pairs(pairs: &[(u64, MessageId)]) -> Vec<u8> {
    pairs
        .iter()
        .flat_map(|(h, id)| h.to_be_bytes().into_iter().chain(id.to_be_bytes()))
        .collect()
}

/// Unpacks a reference bucket.
pub fn unpack_pairs(bytes: &[u8]) -> Vec<(u64, MessageId)> {
    bytes
        .chunks_exact(16)
        .filter_map(|c| Some((read_u64(c, 0)?, MessageId(read_u64(c, 8)?))))
        .collect()
}

/// Packs an operator-id index value: message id and part index.
pub fn pack_part_ref(id: MessageId, part: u32) -> Vec<u8> {
    id.to_be_bytes()
        .into_iter()
        .chain(part.to_be_bytes())
        .collect()
}

/// Unpacks an operator-id index value.
pub fn unpack_part_ref(bytes: &[u8]) -> Option<(MessageId, u32)> {
    let id = read_u64(bytes, 0)?;
    let part = u32::from_be_bytes(bytes.get(8..12)?.try_into().ok()?);
    Some((MessageId(id), part))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intake_chunks_find_records_without_decoding_all() {
        let chunk = IntakeChunk {
            records: vec![
                (MessageId(7), b"seven".to_vec()),
                (MessageId(9), b"nine!".to_vec()),
            ],
        };
        let bytes = chunk.encode();
        assert_eq!(IntakeChunk::find(&bytes, MessageId(9)), Some(&b"nine!"[..]));
        assert_eq!(IntakeChunk::find(&bytes, MessageId(8)), None);
        assert_eq!(IntakeChunk::decode(&bytes).unwrap().records, chunk.records);
        assert!(IntakeChunk::decode(&bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn deadline_entries_round_trip() {
        let entries = vec![
            DeadlineEntry {
                when: 5,
                kind: DeadlineKind::SendBy,
                id: MessageId(3),
            },
            DeadlineEntry {
                when: 6,
                kind: DeadlineKind::GiveUp,
                id: MessageId(1),
            },
        ];
        assert_eq!(unpack_deadlines(&pack_deadlines(&entries)), entries);
    }

    fn delivered_message() -> Message {
        use crate::message::{Extra, Kind, Part, State, Transition};
        let step = |state, at, reason: Option<&str>| Transition {
            state,
            at,
            reason: reason.map(str::to_string),
        };
        Message {
            id: MessageId(42),
            reference: Some("egov-42".into()),
            kind: Kind::Notification,
            recipient: "77011234567".into(),
            sender: None,
            text: Some("Сіздің өтінішіңіз қабылданды".into()),
            created: 1_000,
            send_by: Some(9_000),
            receipt_by: None,
            attempts: 1,
            next_try: 1_000,
            state: State::Delivered,
            operator: Some("kcell".into()),
            parts: vec![Part {
                operator_id: Some("a1b2".into()),
                receipt: Some("DELIVRD".into()),
                error: None,
                receipt_at: Some(2_000),
            }],
            history: vec![
                step(State::Queued, 1_000, None),
                step(State::Submitted, 1_100, Some("ESME_ROK")),
                step(State::Delivered, 2_000, Some("DELIVRD")),
            ],
            extra: Extra {
                template: Some("notice".into()),
                ..Extra::default()
            },
            concat_ref: Some(7),
        }
    }

    #[test]
    fn a_record_written_before_concat_ref_existed_still_reads() {
        let message = Message {
            concat_ref: None,
            ..delivered_message()
        };
        let mut bytes = encode_record(&message).unwrap();
        // drop the last field: an array of 17 (0xdc 0x00 0x11) becomes one of 16, without nil
        assert_eq!(&bytes[1..4], &[0xdc, 0x00, 0x11]);
        assert_eq!(bytes.pop(), Some(0xc0));
        bytes[3] = 0x10;
        assert_eq!(decode_record(&bytes).unwrap(), message);
    }

    #[test]
    fn records_are_written_without_field_names_and_read_back() {
        let message = delivered_message();
        let compact = encode_record(&message).unwrap();
        let named = encode(NAMED_RECORD_VERSION, &message).unwrap();
        assert!(
            compact.len() < named.len() / 2,
            "{} vs {}",
            compact.len(),
            named.len()
        );
        assert_eq!(decode_record(&compact).unwrap(), message);
    }

    #[test]
    fn records_of_earlier_releases_are_still_read() {
        let message = delivered_message();
        // as earlier releases wrote them: field names, and absent optional fields left out
        let named = encode(NAMED_RECORD_VERSION, &message).unwrap();
        let mut value: serde_json::Value = rmp_serde::from_slice(&named[1..]).unwrap();
        for field in ["parts", "history"] {
            for item in value[field].as_array_mut().unwrap() {
                item.as_object_mut().unwrap().retain(|_, v| !v.is_null());
            }
        }
        value["extra"]
            .as_object_mut()
            .unwrap()
            .retain(|_, v| !v.is_null());
        let old = encode(NAMED_RECORD_VERSION, &value).unwrap();
        assert!(old.len() < named.len());
        assert_eq!(decode_record(&old).unwrap(), message);
    }

    #[test]
    fn decode_refuses_unknown_versions() {
        let bytes = encode(2, &5u32).unwrap();
        assert!(decode::<u32>(1, &bytes, "x").is_err());
        assert_eq!(decode::<u32>(2, &bytes, "x").unwrap(), 5);
    }
}
