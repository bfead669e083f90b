//! The packed indexes: queue chunks (ids per lane and due time) and deadline chunks
//! (entries per one-second bucket). See `keys.rs` for why they are packed.

use super::tx::Tx;
use crate::message::{MessageId, Millis};
use crate::store::error::StoreError;
use crate::store::layout::codec::{self, DeadlineEntry};
use crate::store::layout::keys;
use std::collections::{BTreeMap, HashSet};

/// Most ids in one queue chunk (1 KiB).
pub const QUEUE_CHUNK_IDS: usize = 128;
/// Most entries in one deadline chunk (~2 KiB).
pub const DEADLINE_CHUNK_ENTRIES: usize = 128;

/// Appends ids to a lane's queue at `due` (after any already due then: first in, first out).
pub fn enqueue(tx: &mut Tx, lane: u8, due: Millis, ids: &[MessageId]) -> Result<(), StoreError> {
    let mut rest = ids;
    if rest.is_empty() {
        return Ok(());
    }
    if let Some((key, mut bytes)) = tx.last_in_prefix(&keys::queue_due(lane, due))? {
        let room = QUEUE_CHUNK_IDS.saturating_sub(bytes.len() / 8);
        if room > 0 {
            let take = room.min(rest.len());
            bytes.extend_from_slice(&codec::pack_ids(&rest[..take]));
            tx.put(key, bytes);
            rest = &rest[take..];
        }
    }
    for chunk in rest.chunks(QUEUE_CHUNK_IDS) {
        let seq = tx.next_chunk_seq();
        tx.put(keys::queue_chunk(lane, due, seq), codec::pack_ids(chunk));
    }
    Ok(())
}

/// Removes one id from the queue chunk that holds it; false if no chunk at that lane and due
/// time holds it.
pub fn dequeue(tx: &mut Tx, lane: u8, due: Millis, id: MessageId) -> Result<bool, StoreError> {
    let needle = id.to_be_bytes();
    let holds = |bytes: &[u8]| bytes.chunks_exact(8).any(|c| c == needle.as_slice());
    let Some((key, bytes)) = tx.find_in_prefix(&keys::queue_due(lane, due), holds)? else {
        return Ok(false);
    };
    let rest: Vec<u8> = bytes
        .chunks_exact(8)
        .filter(|c| *c != needle.as_slice())
        .flatten()
        .copied()
        .collect();
    if rest.is_empty() {
        tx.remove(key);
    } else {
        tx.put(key, rest);
    }
    Ok(true)
}

/// Adds entries to the deadline index.
pub fn add_deadlines(tx: &mut Tx, entries: &[DeadlineEntry]) -> Result<(), StoreError> {
    let mut by_bucket: BTreeMap<Millis, Vec<DeadlineEntry>> = BTreeMap::new();
    for e in entries {
        by_bucket
            .entry(keys::deadline_bucket_of(e.when))
            .or_default()
            .push(*e);
    }
    for (bucket, mut list) in by_bucket {
        list.sort();
        let mut rest = list.as_slice();
        if let Some((key, bytes)) = tx.last_in_prefix(&keys::deadline_bucket(bucket))? {
            let mut existing = codec::unpack_deadlines(&bytes);
            let room = DEADLINE_CHUNK_ENTRIES.saturating_sub(existing.len());
            if room > 0 {
                let take = room.min(rest.len());
                existing.extend_from_slice(&rest[..take]);
                existing.sort();
                tx.put(key, codec::pack_deadlines(&existing));
                rest = &rest[take..];
            }
        }
        for chunk in rest.chunks(DEADLINE_CHUNK_ENTRIES) {
            let seq = tx.next_chunk_seq();
            tx.put(
                keys::deadline_chunk(bucket, seq),
                codec::pack_deadlines(chunk),
            );
        }
    }
    Ok(())
}

/// The deadline index times of a message: its `send_by`, `receipt_by` and final-receipt
/// timeout, those it has.
pub fn deadline_times(m: &crate::message::Message) -> impl Iterator<Item = (Millis, MessageId)> {
    [m.send_by, m.receipt_by, m.extra.give_up_at]
        .into_iter()
        .flatten()
        .map(move |when| (when, m.id))
}

/// Removes the deadline entries of messages that left the live store, given their times;
/// each bucket's chunks are read and rewritten once however many of its messages go. (Left
/// in place, the entries of finished messages would stay in the live store for days, and its
/// engine's log keeps every version of a long-lived chunk.) A bucket is read from its first
/// chunk, a few at a time, only until every entry asked for is found: entries are appended,
/// so those of the oldest messages, the ones that leave first, are at its front, and a
/// bucket that many messages share (a deadline rule's end of the working day) is not read
/// whole for each group that leaves.
pub fn remove_deadlines(tx: &mut Tx, times: &[(Millis, MessageId)]) -> Result<(), StoreError> {
    let mut by_bucket: BTreeMap<Millis, (HashSet<MessageId>, usize)> = BTreeMap::new();
    for (when, id) in times {
        let (ids, entries) = by_bucket
            .entry(keys::deadline_bucket_of(*when))
            .or_default();
        ids.insert(*id);
        *entries += 1;
    }
    for (bucket, (ids, mut missing)) in by_bucket {
        let prefix = keys::deadline_bucket(bucket);
        let end = keys::prefix_end(&prefix);
        let mut from = prefix;
        while missing > 0 {
            let page = tx.db_range(from..end.clone(), CHUNKS_READ_AT_ONCE)?;
            let Some((last, _)) = page.last() else {
                break;
            };
            from = keys::after(last);
            let whole = page.len() < CHUNKS_READ_AT_ONCE;
            for (key, bytes) in page {
                let entries = codec::unpack_deadlines(&bytes);
                let kept: Vec<DeadlineEntry> = entries
                    .iter()
                    .filter(|e| !ids.contains(&e.id))
                    .copied()
                    .collect();
                if kept.len() == entries.len() {
                    continue;
                }
                missing = missing.saturating_sub(entries.len() - kept.len());
                if kept.is_empty() {
                    tx.remove(key);
                } else {
                    tx.put(key, codec::pack_deadlines(&kept));
                }
            }
            if whole {
                break;
            }
        }
    }
    Ok(())
}

/// Deadline chunks [`remove_deadlines`] reads at a time.
const CHUNKS_READ_AT_ONCE: usize = 16;
