//! Retention: finished messages lose their text after `erase_texts_after` and are forgotten
//! entirely after `forget_after`; the event log is trimmed behind the slowest subscriber
//! (and beyond `keep_events_for`). Each pass walks records in id (= creation) order from a
//! persisted cursor, never the whole store; the cursor only moves past records that are done,
//! so a message that is still in flight delays, but never escapes, its turn. The live store
//! and the history tier have a cursor each: most finished messages are in the history, a few
//! (final moments ago, or after a crash) still live.

use super::chunks;
use super::moves::remove_live;
use super::thread::Writer;
use super::tx::Tx;
use crate::message::{Message, MessageId, Millis};
use crate::store::error::StoreError;
use crate::store::event::Event;
use crate::store::history::HistoryWrite;
use crate::store::layout::codec;
use crate::store::layout::event_run;
use crate::store::layout::keys;
use crate::store::reports::RetentionReport;
use crate::store::rules;

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
            if !rules::erase_texts(&mut m) {
                return Ok(false);
            }
            tx.save(&m)?;
            Ok(true)
        })?;
        tx.state.erase_cursor = erase.cursor;
        let moved_cursor = tx.state.history_erase_cursor;
        let moved_erase = walk_history(&mut tx, moved_cursor, erase_cutoff, limit, |tx, mut m| {
            if !rules::erase_texts(&mut m) {
                return Ok(false);
            }
            tx.write_history(HistoryWrite::Put(Box::new(m)));
            Ok(true)
        })?;
        tx.state.history_erase_cursor = moved_erase.cursor;
        self.commit(tx);

        let forget_cutoff = now - self.config.forget_after_ms;
        let mut tx = self.tx();
        let cursor = tx.state.forget_cursor;
        let forget = walk(&mut tx, cursor, forget_cutoff, limit, |tx, m| {
            remove_live(tx, &m)?;
            let deadlines: Vec<_> = chunks::deadline_times(&m).collect();
            chunks::remove_deadlines(tx, &deadlines)?;
            tx.state.counts.remove(m.kind, m.state);
            if tx.in_history(m.id)? {
                // moving when its turn came: the copy goes too
                tx.write_history(HistoryWrite::Forget(Box::new(m)));
            }
            Ok(true)
        })?;
        tx.state.forget_cursor = forget.cursor;
        let moved_cursor = tx.state.history_forget_cursor;
        let moved_forget = walk_history(&mut tx, moved_cursor, forget_cutoff, limit, |tx, m| {
            tx.state.counts.remove(m.kind, m.state);
            tx.write_history(HistoryWrite::Forget(Box::new(m)));
            Ok(true)
        })?;
        tx.state.history_forget_cursor = moved_forget.cursor;
        self.commit(tx);
        Ok(RetentionReport {
            texts_erased: erase.acted + moved_erase.acted,
            forgotten: forget.acted + moved_forget.acted,
            more: erase.more || forget.more || moved_erase.more || moved_forget.more,
        })
    }

    /// Deletes events every subscriber has acknowledged, and any older than the event
    /// retention, oldest first. The history holds the events up to the moving bound (those
    /// being copied counted as there, and trimmed in the live store too, so they do not show
    /// until their copies land); the live store the newer ones.
    pub(super) fn trim_events(&mut self, now: Millis, limit: usize) -> Result<usize, StoreError> {
        let mut slowest: Option<u64> = None;
        for kv in self.db.scan_prefix(keys::CURSOR) {
            let (_, v) = kv?;
            let seq = codec::read_u64(&v, 0).unwrap_or(0);
            slowest = Some(slowest.map_or(seq, |s: u64| s.min(seq)));
        }
        let too_old = now - self.config.keep_events_ms;
        let through = slowest.unwrap_or(0);
        let done = |seq: u64, at: Millis| slowest.is_some_and(|s| seq <= s) || at < too_old;
        let mut tx = self.tx();
        let copied = self.moves.events_copied();
        let in_flight = self.moves.events_in_flight().iter();
        let history = self.history.history().clone();
        let mut trimmed = history.trimmable_events(copied, through, too_old, limit)?
            + in_flight.filter(|(seq, at)| done(*seq, *at)).count();
        trimmed = trimmed.min(limit);
        if trimmed > 0 {
            tx.write_history(HistoryWrite::TrimEvents {
                through,
                before: too_old,
                limit,
            });
        }
        if trimmed >= limit {
            self.commit(tx);
            return Ok(trimmed);
        }
        // the live store's runs not yet durable in the history: those being copied are
        // counted above (the history trims their copies too), the newer ones here
        let moving = self.moves.events_copied_or_copying();
        let runs = tx.db_range(
            keys::event(copied + 1)..keys::prefix_end(keys::EVENT),
            limit,
        )?;
        for (k, v) in runs {
            let first = keys::event_seq(&k).unwrap_or(0);
            let Ok(events) = event_run::split(first, &v) else {
                tx.remove(k.to_vec()); // unreadable: nobody can consume it
                trimmed += usize::from(first > moving);
                continue;
            };
            let is_done = |(seq, raw): &(u64, &[u8])| {
                let at = codec::decode::<Event>(codec::EVENT_VERSION, raw, "event")
                    .map_or(Millis::MIN, |e| e.at());
                done(*seq, at)
            };
            let gone = events.iter().take_while(|e| is_done(e)).count();
            if gone == 0 {
                break;
            }
            tx.remove(k.to_vec());
            trimmed += events[..gone]
                .iter()
                .filter(|(seq, _)| *seq > moving)
                .count();
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

/// [`walk`] over the history tier: messages with ids from `cursor` on, acting on those
/// finished before `cutoff` (every message there is finished).
fn walk_history(
    tx: &mut Tx,
    cursor: u64,
    cutoff: Millis,
    limit: usize,
    mut act: impl FnMut(&mut Tx, Message) -> Result<bool, StoreError>,
) -> Result<Walk, StoreError> {
    let below = MessageId::from_parts(cutoff.saturating_add(1), 0);
    let after = MessageId(cursor.saturating_sub(1));
    let page = tx.history_page(after, below, limit)?;
    let mut out = Walk {
        cursor,
        acted: 0,
        more: page.len() == limit,
    };
    for message in page {
        let finished_at = message.history.last().map_or(message.created, |t| t.at);
        if finished_at > cutoff {
            out.more = false; // its turn comes when it is old enough
            break;
        }
        out.cursor = message.id.0 + 1;
        if tx.load_live(message.id)?.is_some() {
            continue; // still live too (moving): the live walk acts on it
        }
        if act(tx, message)? {
            out.acted += 1;
        }
    }
    Ok(out)
}
