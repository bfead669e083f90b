//! Key layout of the requests tree. One tree holds the records and both indexes under
//! one-byte prefixes, so a record and its index entries change in one atomic batch.
//!
//! - `r` id → the [`OpenRequest`](super::OpenRequest) record (open or answered);
//! - `n` len(recipient) recipient id → nothing: open, unanswered requests by number, oldest
//!   id first (so the newest is the last key of a number's range);
//! - `c` closes_at id → nothing: every record by the end of its window, earliest first.

use crate::message::{MessageId, Millis};

/// Prefix of records.
const RECORD: u8 = b'r';
/// Prefix of the by-number index.
const BY_NUMBER: u8 = b'n';
/// Prefix of the by-window-end index.
const CLOSING: u8 = b'c';

/// The record key of `id`.
pub(super) fn record(id: MessageId) -> Vec<u8> {
    let mut key = vec![RECORD];
    key.extend_from_slice(&id.to_be_bytes());
    key
}

/// The start of `recipient`'s by-number range (None if the number is too long to index).
pub(super) fn number_prefix(recipient: &str) -> Option<Vec<u8>> {
    let len = u8::try_from(recipient.len()).ok()?;
    let mut key = vec![BY_NUMBER, len];
    key.extend_from_slice(recipient.as_bytes());
    Some(key)
}

/// The by-number key of `id` sent to `recipient`.
pub(super) fn by_number(recipient: &str, id: MessageId) -> Option<Vec<u8>> {
    let mut key = number_prefix(recipient)?;
    key.extend_from_slice(&id.to_be_bytes());
    Some(key)
}

/// The id at the end of a by-number or closing key.
pub(super) fn trailing_id(key: &[u8]) -> Option<MessageId> {
    let start = key.len().checked_sub(8)?;
    let bytes: [u8; 8] = key[start..].try_into().ok()?;
    Some(MessageId(u64::from_be_bytes(bytes)))
}

/// A time as bytes whose order is the time's order (sign bit flipped).
fn ordered_time(at: Millis) -> [u8; 8] {
    ((at as u64) ^ (1 << 63)).to_be_bytes()
}

/// The closing-index key of `id` whose window ends at `closes_at`.
pub(super) fn closing(closes_at: Millis, id: MessageId) -> Vec<u8> {
    let mut key = vec![CLOSING];
    key.extend_from_slice(&ordered_time(closes_at));
    key.extend_from_slice(&id.to_be_bytes());
    key
}

/// The first closing-index key.
pub(super) fn closing_start() -> Vec<u8> {
    vec![CLOSING]
}

/// The last possible closing-index key of a window ending at or before `at`.
pub(super) fn closing_through(at: Millis) -> Vec<u8> {
    closing(at, MessageId(u64::MAX))
}
