//! Writing the history: the changes the store's writer asks for ([`HistoryWrite`]) and the one
//! connection that applies them, a batch per durable transaction ([`HistoryWriter`]).

use super::packing::{Packer, Training};
use super::{EventRow, failed, operator_keys};
use crate::message::{Message, MessageId};
use crate::store::error::StoreError;
use rusqlite::{Connection, params};

/// One change to the history.
#[derive(Clone, Debug)]
pub enum HistoryWrite {
    /// Store the message as it now is (new, or replacing its earlier copy).
    Put(Box<Message>),
    /// Forget the message and its operator ids.
    Forget(Box<Message>),
    /// Append events (already durable in the live store).
    Events(Vec<EventRow>),
    /// Of the `limit` oldest events, delete those with a seq up to `through` or that happened
    /// before `before`. Both bounds cut the log in seq order (events are stamped as they are
    /// appended), so this is the oldest of them; looking no further than `limit` rows keeps a
    /// trim with nothing to delete from reading the whole log.
    TrimEvents {
        /// Every consumer acknowledged the events up to this seq.
        through: u64,
        /// Events before this are older than `keep_events_for`.
        before: i64,
        /// Most events deleted.
        limit: usize,
    },
}

impl HistoryWrite {
    /// The message written, for the writes of one message.
    pub fn id(&self) -> Option<MessageId> {
        match self {
            HistoryWrite::Put(m) | HistoryWrite::Forget(m) => Some(m.id),
            HistoryWrite::Events(_) | HistoryWrite::TrimEvents { .. } => None,
        }
    }
}

/// The connection that writes the history (the store's flusher holds it).
pub struct HistoryWriter {
    c: Connection,
    packer: Packer,
}

impl HistoryWriter {
    /// The writer on connection `c`, packing records as `training` says.
    pub(super) fn new(c: Connection, training: Training) -> Result<HistoryWriter, StoreError> {
        let packer = Packer::load(&c, training)?;
        Ok(HistoryWriter { c, packer })
    }

    /// Applies `writes` in one durable transaction.
    pub fn apply(&mut self, writes: &[HistoryWrite]) -> Result<(), StoreError> {
        if writes.is_empty() {
            return Ok(());
        }
        let HistoryWriter { c, packer } = self;
        let tx = c.transaction().map_err(|e| failed("begin", e))?;
        let done = write_all(&tx, packer, writes)
            .and_then(|()| tx.commit().map_err(|e| failed("commit", e)));
        match done {
            Ok(()) => packer.committed(),
            Err(_) => packer.rolled_back(),
        }
        done
    }
}

/// Applies `writes` in transaction `tx`, packing records with `packer`.
fn write_all(
    tx: &Connection,
    packer: &mut Packer,
    writes: &[HistoryWrite],
) -> Result<(), StoreError> {
    let prepare = |sql: &str, what: &str| tx.prepare_cached(sql).map_err(|e| failed(what, e));
    let mut put = prepare(
        "INSERT OR REPLACE INTO messages (id, reference, kind, state, record)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        "put",
    )?;
    let mut put_text = prepare(
        "INSERT OR REPLACE INTO texts (id, text) VALUES (?1, ?2)",
        "put",
    )?;
    let mut forget_text = prepare("DELETE FROM texts WHERE id = ?1", "forget")?;
    let mut put_key = prepare(
        "INSERT OR REPLACE INTO operator_ids (key, id, part) VALUES (?1, ?2, ?3)",
        "put",
    )?;
    let mut forget = prepare("DELETE FROM messages WHERE id = ?1", "forget")?;
    let mut forget_key = prepare(
        "DELETE FROM operator_ids WHERE key = ?1 AND id = ?2",
        "forget",
    )?;
    let mut event = prepare(
        "INSERT OR IGNORE INTO events (seq, at, event) VALUES (?1, ?2, ?3)",
        "events",
    )?;
    let mut trim = prepare(
        "DELETE FROM events WHERE seq IN
             (SELECT seq FROM (SELECT seq, at FROM events ORDER BY seq LIMIT ?3)
              WHERE seq <= ?1 OR at < ?2)",
        "trim events",
    )?;
    for write in writes {
        match write {
            HistoryWrite::Put(m) => {
                let record = packer.pack(tx, m)?;
                put.execute(params![
                    m.id.0 as i64,
                    m.reference,
                    m.kind.as_str(),
                    m.state.as_str(),
                    record
                ])
                .map_err(|e| failed("put", e))?;
                match &m.text {
                    Some(text) => put_text.execute(params![m.id.0 as i64, text]),
                    None => forget_text.execute([m.id.0 as i64]),
                }
                .map_err(|e| failed("put", e))?;
                for (key, part) in operator_keys(m) {
                    put_key
                        .execute(params![key, m.id.0 as i64, part])
                        .map_err(|e| failed("put", e))?;
                }
            }
            HistoryWrite::Forget(m) => {
                forget
                    .execute([m.id.0 as i64])
                    .map_err(|e| failed("forget", e))?;
                forget_text
                    .execute([m.id.0 as i64])
                    .map_err(|e| failed("forget", e))?;
                for (key, _) in operator_keys(m) {
                    forget_key
                        .execute(params![key, m.id.0 as i64])
                        .map_err(|e| failed("forget", e))?;
                }
            }
            HistoryWrite::Events(rows) => {
                for (seq, at, bytes) in rows {
                    event
                        .execute(params![*seq as i64, at, bytes])
                        .map_err(|e| failed("events", e))?;
                }
            }
            HistoryWrite::TrimEvents {
                through,
                before,
                limit,
            } => {
                trim.execute(params![*through as i64, before, *limit as i64])
                    .map_err(|e| failed("trim events", e))?;
            }
        }
    }
    Ok(())
}
