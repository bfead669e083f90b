//! The on-disk key layout: every namespace of the store lives in one ordered key space under its own
//! prefix, so that a state change and all its index updates are one atomic `apply_batch`.
//!
//! Integers are big-endian so that byte order equals numeric order.
//!
//! | prefix | key rest | value |
//! | --- | --- | --- |
//! | `m/` | id | one message record (touched since acceptance) |
//! | `n/` | first id | intake chunk: records of untouched queued messages with consecutive ids |
//! | `q/` | lane, due ms, seq | queue chunk: ids due at that time in that lane |
//! | `f/` | run seq | in flight: ids claimed together, kept until none of them is `submitting` |
//! | `o/` | operator length, operator, operator message id | id and part index |
//! | `p/` | operator length, operator, operator message id | a receipt that matched nothing yet |
//! | `r/` | hash bucket | sorted (reference hash, id) pairs |
//! | `d/` | second, seq | deadline chunk: (when, deadline kind, id) entries |
//! | `e/` | seq | one event, or a run of events starting at that seq (see `event_run.rs`) |
//! | `c/` | cursor name | the last event seq that consumer acknowledged |
//! | `meta/` | name | format version and the writer's bookkeeping |
//!
//! Why chunks: the engine's write cost and memory follow the number of keys (see
//! [`crate::store::engine`]). Untouched queued messages are packed
//! many to a key; a message gets a key of its own (`m/`) only once something happens to it.

use super::codec::read_u64;
use crate::message::{MessageId, Millis};
use crate::operator_id::normalize_operator_id;

/// Message records touched since acceptance.
pub const RECORD: &[u8] = b"m/";
/// Intake chunks of untouched queued records.
pub const INTAKE: &[u8] = b"n/";
/// Ready queue chunks.
pub const QUEUE: &[u8] = b"q/";
/// In-flight (`submitting`) markers.
pub const IN_FLIGHT: &[u8] = b"f/";
/// Operator message id → (message, part).
pub const OPERATOR_ID: &[u8] = b"o/";
/// Parked receipts: operator message id → a receipt that came before its submit_sm_resp was
/// recorded (or for an id never stored), kept until it matches or its hold ends.
pub const PARKED: &[u8] = b"p/";
/// Reference hash buckets.
pub const REFERENCE: &[u8] = b"r/";
/// Deadline chunks.
pub const DEADLINE: &[u8] = b"d/";
/// The event log (single events and runs).
pub const EVENT: &[u8] = b"e/";
/// Durable consumer cursors.
pub const CURSOR: &[u8] = b"c/";
/// The format version of the whole store.
pub const FORMAT_VERSION: &[u8] = b"meta/format_version";
/// The writer's persisted bookkeeping (ids, sequences, counters, cursors).
pub const WRITER_STATE: &[u8] = b"meta/state";

/// Bits of a reference hash that pick its bucket (2^18 buckets: a few hundred bytes each at
/// millions of references, and few enough keys to keep the engine's page table small).
pub const REFERENCE_BUCKET_BITS: u32 = 18;

/// Width of a deadline bucket in milliseconds.
pub const DEADLINE_BUCKET_MS: Millis = 1000;

/// Times in keys are unsigned; anything before 1970 sorts as 1970.
fn time_bytes(t: Millis) -> [u8; 8] {
    (t.max(0) as u64).to_be_bytes()
}

fn concat(parts: &[&[u8]]) -> Vec<u8> {
    let mut key = Vec::with_capacity(parts.iter().map(|p| p.len()).sum());
    for part in parts {
        key.extend_from_slice(part);
    }
    key
}

/// `m/<id>`.
pub fn record(id: MessageId) -> Vec<u8> {
    concat(&[RECORD, &id.to_be_bytes()])
}

/// `n/<first id>`.
pub fn intake(first: MessageId) -> Vec<u8> {
    concat(&[INTAKE, &first.to_be_bytes()])
}

/// The first id of an intake chunk key.
pub fn intake_first(key: &[u8]) -> Option<MessageId> {
    read_u64(key, INTAKE.len()).map(MessageId)
}

/// `q/<lane>`: every queue chunk of a lane.
pub fn queue_lane(lane: u8) -> Vec<u8> {
    concat(&[QUEUE, &[lane]])
}

/// `q/<lane>/<due>`: the queue chunks of a lane due at exactly `due`.
pub fn queue_due(lane: u8, due: Millis) -> Vec<u8> {
    concat(&[QUEUE, &[lane], &time_bytes(due)])
}

/// `q/<lane>/<due>/<seq>`: one queue chunk.
pub fn queue_chunk(lane: u8, due: Millis, seq: u64) -> Vec<u8> {
    concat(&[QUEUE, &[lane], &time_bytes(due), &seq.to_be_bytes()])
}

/// Lane and due time of a queue chunk key.
pub fn queue_chunk_parts(key: &[u8]) -> Option<(u8, Millis)> {
    let lane = *key.get(QUEUE.len())?;
    let due = read_u64(key, QUEUE.len() + 1)? as Millis;
    Some((lane, due))
}

/// `f/<run seq>`: the ids one claim took (see `writer/flights.rs`).
pub fn in_flight_run(seq: u64) -> Vec<u8> {
    concat(&[IN_FLIGHT, &seq.to_be_bytes()])
}

/// The ids an in-flight key names: a run's packed ids, or, in stores written before runs
/// (an empty value), the one id in the key.
pub fn in_flight_ids(key: &[u8], value: &[u8]) -> Vec<MessageId> {
    if value.is_empty() {
        id_after(IN_FLIGHT, key).into_iter().collect()
    } else {
        super::codec::unpack_ids(value)
    }
}

/// `o/<operator len><operator><normalised operator message id>`.
pub fn operator_id(operator: &str, raw_id: &str) -> Vec<u8> {
    scoped_to_operator(OPERATOR_ID, operator, &normalize_operator_id(raw_id))
}

/// `p/<operator len><operator><normalised operator message id>`.
pub fn parked(operator: &str, normalized_id: &str) -> Vec<u8> {
    scoped_to_operator(PARKED, operator, normalized_id)
}

/// The operator of a `p/` key.
pub fn parked_operator(key: &[u8]) -> Option<String> {
    let len = *key.get(PARKED.len())? as usize;
    let start = PARKED.len() + 1;
    let name = key.get(start..start + len)?;
    Some(String::from_utf8_lossy(name).into_owned())
}

fn scoped_to_operator(prefix: &[u8], operator: &str, id: &str) -> Vec<u8> {
    let operator = &operator.as_bytes()[..operator.len().min(255)];
    concat(&[prefix, &[operator.len() as u8], operator, id.as_bytes()])
}

/// The stable 64-bit hash of a reference (the first 8 bytes of its SHA-256).
pub fn reference_hash(reference: &str) -> u64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(reference.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// `r/<bucket>` for a reference hash.
pub fn reference_bucket(hash: u64) -> Vec<u8> {
    let bucket = (hash >> (64 - REFERENCE_BUCKET_BITS)) as u32;
    concat(&[REFERENCE, &bucket.to_be_bytes()])
}

/// The deadline bucket (start, in ms) holding time `when`.
pub fn deadline_bucket_of(when: Millis) -> Millis {
    when.max(0) / DEADLINE_BUCKET_MS * DEADLINE_BUCKET_MS
}

/// `d/<bucket start>`: every deadline chunk of one bucket.
pub fn deadline_bucket(bucket: Millis) -> Vec<u8> {
    concat(&[DEADLINE, &time_bytes(bucket)])
}

/// `d/<bucket start>/<seq>`: one deadline chunk.
pub fn deadline_chunk(bucket: Millis, seq: u64) -> Vec<u8> {
    concat(&[DEADLINE, &time_bytes(bucket), &seq.to_be_bytes()])
}

/// The bucket start of a deadline chunk key.
pub fn deadline_chunk_bucket(key: &[u8]) -> Option<Millis> {
    read_u64(key, DEADLINE.len()).map(|b| b as Millis)
}

/// `e/<seq>`.
pub fn event(seq: u64) -> Vec<u8> {
    concat(&[EVENT, &seq.to_be_bytes()])
}

/// The seq of an event key.
pub fn event_seq(key: &[u8]) -> Option<u64> {
    read_u64(key, EVENT.len())
}

/// `c/<name>`.
pub fn cursor(name: &str) -> Vec<u8> {
    concat(&[CURSOR, name.as_bytes()])
}

/// The id in a key of the form `<prefix><id>` (records, old in-flight markers).
pub fn id_after(prefix: &[u8], key: &[u8]) -> Option<MessageId> {
    read_u64(key, prefix.len()).map(MessageId)
}

/// The first key after `key` (a range from it leaves `key` out).
pub fn after(key: &[u8]) -> Vec<u8> {
    concat(&[key, &[0]])
}

/// The exclusive upper end of a prefix range (the prefix with its last byte incremented).
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return end;
        }
    }
    vec![u8::MAX; prefix.len() + 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_keys_sort_by_lane_then_due_then_seq() {
        let mut keys = [
            queue_chunk(1, 5, 0),
            queue_chunk(0, 900, 3),
            queue_chunk(0, 20, 9),
            queue_chunk(0, 20, 2),
        ];
        keys.sort();
        let parts: Vec<_> = keys.iter().map(|k| queue_chunk_parts(k).unwrap()).collect();
        assert_eq!(parts, vec![(0, 20), (0, 20), (0, 900), (1, 5)]);
        assert!(keys[0] < keys[1]);
    }

    #[test]
    fn operator_ids_match_across_padding_and_case() {
        assert_eq!(
            operator_id("kcell", "00AB12"),
            operator_id("kcell", " ab12 ")
        );
        assert_ne!(operator_id("kcell", "ab12"), operator_id("beeline", "ab12"));
    }

    #[test]
    fn prefix_end_bounds_the_prefix() {
        assert_eq!(prefix_end(b"q/\x01"), b"q/\x02".to_vec());
        assert!(queue_chunk(1, i64::MAX, u64::MAX) < prefix_end(&queue_lane(1)));
    }
}
