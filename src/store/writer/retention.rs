//! Retention: finished messages lose their text after `erase_texts_after` and are forgotten
//! entirely after `forget_after`; the event log is trimmed behind the slowest subscriber
//! (and beyond `keep_events_for`). Each pass walks records in id (= creation) order from a
//! persisted cursor, never the whole store; the cursor only moves past records that are done,
//! so a message that is still in flight delays, but never escapes, its turn.

use super::super::codec;
use super::super::event::Event;
use super::super::{StoreError, event_run, keys};
use super::Writer;
use super::tx::Tx;
use crate::message::{Message, MessageId, Millis};

/// What one retention pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// Texts erased.
    pub texts_erased: usize,
    /// Messages forgotten.
    pub forgotten: usize,
    /// True when a walk stopped at its limit with more to look at.
    pub more: bool,
}

/// The outcome of walking records from a cursor.
struct Walk {
    cursor: u64,
    acted: usize,
    more: bool,
}

impl Writer {
    /// One retention pass over at most `limit` records per walk.
    pub(super) fn retention(
        &mut self,
        now: Millis,
        limit: usize,
    ) -> Result<RetentionReport, StoreError> {
        let erase_cutoff = now - self.config.erase_after_ms;
        let mut tx = self.tx();
        let cursor = tx.state.erase_cursor;
        let erase = walk(&mut tx, cursor, erase_cutoff, limit, |tx, mut m| {
            if m.text.is_none() && m.extra.replies.iter().all(|r| r.text.is_none()) {
                return Ok(false);
            }
            m.text = None;
            for reply in &mut m.extra.replies {
                reply.text = None;
            }
            tx.save(&m)?;
            Ok(true)
        })?;
        tx.state.erase_cursor = erase.cursor;
        self.commit(tx);

        let forget_cutoff = now - self.config.forget_after_ms;
        let mut tx = self.tx();
        let cursor = tx.state.forget_cursor;
        let forget = walk(&mut tx, cursor, forget_cutoff, limit, |tx, m| {
            forget(tx, &m)?;
            Ok(true)
        })?;
        tx.state.forget_cursor = forget.cursor;
        self.commit(tx);
        Ok(RetentionReport {
            texts_erased: erase.acted,
            forgotten: forget.acted,
            more: erase.more || forget.more,
        })
    }

    /// Deletes events every subscriber has acknowledged, and any older than the event retention.
    pub(super) fn trim_events(&mut self, now: Millis, limit: usize) -> Result<usize, StoreError> {
        let mut slowest: Option<u64> = None;
        for kv in self.db.scan_prefix(keys::CURSOR) {
            let (_, v) = kv?;
            let seq = keys::read_u64(&v, 0).unwrap_or(0);
            slowest = Some(slowest.map_or(seq, |s: u64| s.min(seq)));
        }
        let too_old = now - self.config.keep_events_ms;
        let mut tx = self.tx();
        let mut trimmed = 0;
        for kv in self.db.scan_prefix(keys::EVENT).take(limit) {
            let (k, v) = kv?;
            let first = keys::event_seq(&k).unwrap_or(0);
            let Ok(events) = event_run::split(first, &v) else {
                tx.remove(k.to_vec()); // unreadable: nobody can consume it
                trimmed += 1;
                continue;
            };
            let done = |(seq, raw): &(u64, &[u8])| {
                let acknowledged = slowest.is_some_and(|s| *seq <= s);
                let expired = codec::decode::<Event>(codec::EVENT_VERSION, raw, "event")
                    .map(|e| e.at() < too_old)
                    .unwrap_or(true);
                acknowledged || expired
            };
            let gone = events.iter().take_while(|e| done(e)).count();
            if gone == 0 {
                break;
            }
            tx.remove(k.to_vec());
            trimmed += gone;
            if let Some((next, _)) = events.get(gone) {
                // the rest of the run stays, under its new first seq
                tx.put(keys::event(*next), event_run::pack(&events[gone..]));
                break;
            }
        }
        self.commit(tx);
        Ok(trimmed)
    }
}

/// Walks own records from `cursor` in id order, acting on those finished before `cutoff`.
fn walk(
    tx: &mut Tx,
    cursor: u64,
    cutoff: Millis,
    limit: usize,
    mut act: impl FnMut(&mut Tx, Message) -> Result<bool, StoreError>,
) -> Result<Walk, StoreError> {
    // untouched queued records live in intake chunks; the cursor must not pass the oldest
    let oldest_intake = tx
        .first_in_prefix(keys::INTAKE)?
        .and_then(|(k, _)| keys::intake_first(&k))
        .map_or(u64::MAX, |id| id.0);
    let end = keys::record(MessageId(oldest_intake));
    let mut out = Walk {
        cursor,
        acted: 0,
        more: false,
    };
    let mut advancing = true;
    let records: Vec<_> = tx.db_range(keys::record(MessageId(cursor))..end, limit + 1)?;
    for (i, (key, bytes)) in records.into_iter().enumerate() {
        if i == limit {
            out.more = true;
            break;
        }
        let message = codec::decode_record(&bytes)?;
        if message.created > cutoff {
            break;
        }
        let finished_at = message
            .history
            .last()
            .filter(|_| message.state.is_final())
            .map(|t| t.at);
        let id = keys::id_after(keys::RECORD, &key).map_or(0, |id| id.0);
        match finished_at {
            Some(at) if at <= cutoff => {
                if act(tx, message)? {
                    out.acted += 1;
                }
                if advancing {
                    out.cursor = id + 1;
                }
            }
            _ => advancing = false,
        }
    }
    Ok(out)
}

/// Deletes a message and every index entry that names it.
fn forget(tx: &mut Tx, m: &Message) -> Result<(), StoreError> {
    if let Some(operator) = &m.operator {
        for part in &m.parts {
            if let Some(op_id) = &part.operator_id {
                tx.remove(keys::operator_id(operator, op_id));
            }
        }
    }
    if let Some(reference) = &m.reference {
        let hash = keys::reference_hash(reference);
        let bucket = keys::reference_bucket(hash);
        if let Some(bytes) = tx.get(&bucket)? {
            let pairs: Vec<_> = codec::unpack_pairs(&bytes)
                .into_iter()
                .filter(|p| *p != (hash, m.id))
                .collect();
            if pairs.is_empty() {
                tx.remove(bucket);
            } else {
                tx.put(bucket, codec::pack_pairs(&pairs));
            }
        }
    }
    tx.remove(keys::record(m.id));
    tx.state.counts.remove(m.kind, m.state);
    Ok(())
}
