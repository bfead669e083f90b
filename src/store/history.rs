//! The history tier: finished messages, moved out of the live store into one SQLite
//! file beside it, `history.sqlite` in the store's directory. The live store then holds only
//! what is queued, in flight or awaiting a receipt, so its memory and disk follow the queue;
//! the history is large, cold and read rarely (`show`, `get`, idempotent references, late
//! receipts, retention), and SQLite keeps it in a page cache of bounded size whatever its
//! length (docs/BENCHMARKS.md, "History tier: choosing its engine").
//!
//! One row per message: its record in the store's own encoding (`codec::encode_record`), with
//! its id, reference, kind and state as columns for lookups and counts; one row per operator
//! message id for receipts that come after a message moved; and the event log, moved here once
//! durable from the live store (where a few seconds of it stay). Writes come in batches from the
//! store's flusher, one transaction each, durable (`synchronous = FULL`) before the flusher
//! answers anyone, and always before the live store lets go of what moved.

use crate::message::{Kind, Message, MessageId, State};
use crate::store::error::StoreError;
use crate::store::layout::codec;
use crate::store::layout::keys;
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The file name, in the store's directory.
pub const FILE: &str = "history.sqlite";
/// The schema this release writes (`PRAGMA user_version`); a newer one is refused.
const SCHEMA: i64 = 1;
/// SQLite's page cache of the writing connection, in KiB (its memory does not grow with the
/// history; inserts touch the ends of the tables and the reference index).
const WRITER_CACHE_KIB: i64 = 8 * 1024;
/// The page cache of each reading connection, in KiB: reads are rare and scattered (`show`,
/// a late receipt, an accept's references), the OS's file cache serves them as well.
const READER_CACHE_KIB: i64 = 2 * 1024;

const CREATE: &str = "
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    reference TEXT,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    record BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS messages_by_reference ON messages(reference)
    WHERE reference IS NOT NULL;
CREATE TABLE IF NOT EXISTS operator_ids (
    key BLOB PRIMARY KEY,
    id INTEGER NOT NULL,
    part INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    event BLOB NOT NULL
);
";

/// One event as the history keeps it: its seq, when it happened, its encoding
/// (`codec::encode(EVENT_VERSION, ..)`).
pub type EventRow = (u64, i64, Vec<u8>);

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

/// The history file, shared by every thread that reads it.
pub struct History {
    path: PathBuf,
    /// Idle reading connections (SQLite connections are not shared between threads at once).
    readers: Mutex<Vec<Connection>>,
}

/// Counts per kind and state and, for each id asked, its kind and state if it is there.
pub type CountsAndStates = (Vec<(Kind, State, u64)>, Vec<Option<(Kind, State)>>);

/// The message with this id, on connection `c`.
fn get_on(c: &Connection, id: MessageId) -> Result<Option<Message>, StoreError> {
    let mut q = c
        .prepare_cached("SELECT record FROM messages WHERE id = ?1")
        .map_err(|e| failed("get", e))?;
    let bytes: Option<Vec<u8>> = q
        .query_row([id.0 as i64], |r| r.get(0))
        .optional()
        .map_err(|e| failed("get", e))?;
    bytes.map(|b| codec::decode_record(&b)).transpose()
}

/// Messages per kind and state, on connection `c`.
fn counts_on(c: &Connection) -> Result<Vec<(Kind, State, u64)>, StoreError> {
    let mut q = c
        .prepare("SELECT kind, state, COUNT(*) FROM messages GROUP BY kind, state")
        .map_err(|e| failed("counts", e))?;
    let rows = q
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })
        .map_err(|e| failed("counts", e))?;
    let mut out = Vec::new();
    for row in rows {
        let (kind, state, n) = row.map_err(|e| failed("counts", e))?;
        out.push((kind_of(&kind), state_of(&state), n as u64));
    }
    Ok(out)
}

fn failed(what: &str, e: rusqlite::Error) -> StoreError {
    // the same words as the live store's I/O error, so one alert matches both tiers
    if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull) {
        return StoreError::storage(format!("history: {what}: No space left on device ({e})"), e);
    }
    StoreError::storage(format!("history: {what}: {e}"), e)
}

fn connect(path: &Path, cache_kib: i64) -> Result<Connection, StoreError> {
    let c = Connection::open(path).map_err(|e| failed("cannot open", e))?;
    c.busy_timeout(std::time::Duration::from_secs(30))
        .map_err(|e| failed("busy timeout", e))?;
    c.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA cache_size = -{cache_kib};"
    ))
    .map_err(|e| failed("cannot set up", e))?;
    Ok(c)
}

fn kind_of(name: &str) -> Kind {
    Kind::ALL
        .into_iter()
        .find(|k| k.as_str() == name)
        .unwrap_or(Kind::Bulk)
}

fn state_of(name: &str) -> State {
    crate::store::counts::STATES
        .into_iter()
        .find(|s| s.as_str() == name)
        .unwrap_or(State::Unknown)
}

/// The operator-id keys of a message's acknowledged parts, with their part index.
fn operator_keys(m: &Message) -> Vec<(Vec<u8>, u32)> {
    let Some(operator) = &m.operator else {
        return Vec::new();
    };
    (0u32..)
        .zip(&m.parts)
        .filter_map(|(i, p)| Some((keys::operator_id(operator, p.operator_id.as_deref()?), i)))
        .collect()
}

impl History {
    /// Opens (or creates) the history in the store's directory `dir`.
    pub fn open(dir: &Path) -> Result<History, StoreError> {
        let path = dir.join(FILE);
        let c = connect(&path, READER_CACHE_KIB)?;
        let version: i64 = c
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| failed("cannot read its schema version", e))?;
        if version > SCHEMA {
            return Err(StoreError::Corrupt(format!(
                "{} has history schema {version}; this release reads up to {SCHEMA}",
                path.display()
            )));
        }
        c.execute_batch(&format!("{CREATE} PRAGMA user_version = {SCHEMA};"))
            .map_err(|e| failed("cannot create its tables", e))?;
        Ok(History {
            path,
            readers: Mutex::new(vec![c]),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A connection for writing (the flusher's own).
    pub fn writer(&self) -> Result<HistoryWriter, StoreError> {
        Ok(HistoryWriter(connect(&self.path, WRITER_CACHE_KIB)?))
    }

    /// Runs `f` on an idle reading connection.
    fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let idle = self.readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let c = match idle {
            Some(c) => c,
            None => connect(&self.path, READER_CACHE_KIB)?,
        };
        let result = f(&c);
        self.readers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(c);
        result
    }

    /// The message with this id, if it moved here.
    pub fn get(&self, id: MessageId) -> Result<Option<Message>, StoreError> {
        self.read(|c| get_on(c, id))
    }

    /// The message upstream handed over with this reference, if it moved here.
    pub fn get_by_reference(&self, reference: &str) -> Result<Option<Message>, StoreError> {
        self.read(|c| {
            let mut q = c
                .prepare_cached("SELECT record FROM messages WHERE reference = ?1")
                .map_err(|e| failed("get by reference", e))?;
            let bytes: Option<Vec<u8>> = q
                .query_row([reference], |r| r.get(0))
                .optional()
                .map_err(|e| failed("get by reference", e))?;
            bytes.map(|b| codec::decode_record(&b)).transpose()
        })
    }

    /// The id and state of each of `references` found here (one query for a whole group of
    /// accepts).
    pub fn references(
        &self,
        references: &[&str],
    ) -> Result<HashMap<String, (MessageId, State)>, StoreError> {
        let mut found = HashMap::new();
        if references.is_empty() {
            return Ok(found);
        }
        self.read(|c| {
            for chunk in references.chunks(500) {
                let marks = vec!["?"; chunk.len()].join(",");
                let sql = format!(
                    "SELECT reference, id, state FROM messages WHERE reference IN ({marks})"
                );
                let mut q = c.prepare(&sql).map_err(|e| failed("references", e))?;
                let rows = q
                    .query_map(rusqlite::params_from_iter(chunk.iter()), |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, i64>(1)?,
                            r.get::<_, String>(2)?,
                        ))
                    })
                    .map_err(|e| failed("references", e))?;
                for row in rows {
                    let (reference, id, state) = row.map_err(|e| failed("references", e))?;
                    found.insert(reference, (MessageId(id as u64), state_of(&state)));
                }
            }
            Ok(found)
        })
    }

    /// The message and part an operator message id belongs to, if its message moved here.
    pub fn find_operator_key(&self, key: &[u8]) -> Result<Option<(MessageId, u32)>, StoreError> {
        self.read(|c| {
            let mut q = c
                .prepare_cached("SELECT id, part FROM operator_ids WHERE key = ?1")
                .map_err(|e| failed("operator id", e))?;
            let found: Option<(i64, i64)> = q
                .query_row([key], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
                .map_err(|e| failed("operator id", e))?;
            Ok(found.map(|(id, part)| (MessageId(id as u64), part as u32)))
        })
    }

    /// Up to `limit` messages with ids in `(after, below)`, in id order (retention's walk).
    pub fn page(
        &self,
        after: MessageId,
        below: MessageId,
        limit: usize,
    ) -> Result<Vec<Message>, StoreError> {
        self.read(|c| {
            let mut q = c
                .prepare_cached(
                    "SELECT record FROM messages WHERE id > ?1 AND id < ?2 ORDER BY id LIMIT ?3",
                )
                .map_err(|e| failed("page", e))?;
            let rows = q
                .query_map(params![after.0 as i64, below.0 as i64, limit as i64], |r| {
                    r.get::<_, Vec<u8>>(0)
                })
                .map_err(|e| failed("page", e))?;
            let mut out = Vec::new();
            for row in rows {
                out.push(codec::decode_record(&row.map_err(|e| failed("page", e))?)?);
            }
            Ok(out)
        })
    }

    /// How many messages of each kind are here in each state.
    pub fn counts(&self) -> Result<Vec<(Kind, State, u64)>, StoreError> {
        self.read(counts_on)
    }

    /// [`History::counts`] and the kind and state of each of `ids` here, read from one
    /// snapshot (a commit between two separate reads would count a message twice or never).
    pub fn counts_and_states(&self, ids: &[MessageId]) -> Result<CountsAndStates, StoreError> {
        self.read(|c| {
            let snapshot = c.unchecked_transaction().map_err(|e| failed("counts", e))?;
            let counts = counts_on(&snapshot)?;
            let mut states = Vec::with_capacity(ids.len());
            for id in ids {
                states.push(get_on(&snapshot, *id)?.map(|m| (m.kind, m.state)));
            }
            snapshot.commit().map_err(|e| failed("counts", e))?;
            Ok((counts, states))
        })
    }

    /// The highest id here (0 when empty).
    pub fn max_id(&self) -> Result<u64, StoreError> {
        self.max_of("SELECT MAX(id) FROM messages", "max id")
    }

    /// The one integer `sql` selects, 0 when it is NULL (an empty table's MAX).
    fn max_of(&self, sql: &str, what: &str) -> Result<u64, StoreError> {
        self.read(|c| {
            let max: Option<i64> = c
                .query_row(sql, [], |r| r.get(0))
                .map_err(|e| failed(what, e))?;
            Ok(max.unwrap_or(0) as u64)
        })
    }

    /// Up to `limit` events with seqs in `(after, through]`, oldest first.
    pub fn events(
        &self,
        after: u64,
        through: u64,
        limit: usize,
    ) -> Result<Vec<EventRow>, StoreError> {
        self.read(|c| {
            let mut q = c
                .prepare_cached(
                    "SELECT seq, at, event FROM events WHERE seq > ?1 AND seq <= ?2 ORDER BY seq LIMIT ?3",
                )
                .map_err(|e| failed("events", e))?;
            let rows = q
                .query_map(params![after as i64, through as i64, limit as i64], |r| {
                    Ok((r.get::<_, i64>(0)? as u64, r.get(1)?, r.get(2)?))
                })
                .map_err(|e| failed("events", e))?;
            rows.map(|row| row.map_err(|e| failed("events", e))).collect()
        })
    }

    /// The last event seq here (0 when none).
    pub fn last_event(&self) -> Result<u64, StoreError> {
        self.max_of("SELECT MAX(seq) FROM events", "last event")
    }

    /// How many of the events up to `held` (those committed here) [`HistoryWrite::TrimEvents`]
    /// with these bounds would delete (of the `limit` oldest).
    pub fn trimmable_events(
        &self,
        held: u64,
        through: u64,
        before: i64,
        limit: usize,
    ) -> Result<usize, StoreError> {
        self.read(|c| {
            let n: i64 = c
                .query_row(
                    "SELECT COUNT(*) FROM
                     (SELECT seq, at FROM events WHERE seq <= ?1 ORDER BY seq LIMIT ?4)
                     WHERE seq <= ?2 OR at < ?3",
                    params![held as i64, through as i64, before, limit as i64],
                    |r| r.get(0),
                )
                .map_err(|e| failed("trimmable events", e))?;
            Ok(n as usize)
        })
    }

    /// Bytes on disk (the file and its write-ahead log).
    pub fn size_on_disk(&self) -> u64 {
        ["", "-wal", "-shm"]
            .iter()
            .filter_map(|suffix| {
                let mut name = self.path.clone().into_os_string();
                name.push(suffix);
                std::fs::metadata(name).ok()
            })
            .map(|m| m.len())
            .sum()
    }
}

/// The connection that writes the history (the store's flusher holds it).
pub struct HistoryWriter(Connection);

impl HistoryWriter {
    /// Applies `writes` in one durable transaction.
    pub fn apply(&mut self, writes: &[HistoryWrite]) -> Result<(), StoreError> {
        if writes.is_empty() {
            return Ok(());
        }
        let tx = self.0.transaction().map_err(|e| failed("begin", e))?;
        {
            let mut put = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO messages (id, reference, kind, state, record)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(|e| failed("put", e))?;
            let mut put_key = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO operator_ids (key, id, part) VALUES (?1, ?2, ?3)",
                )
                .map_err(|e| failed("put", e))?;
            let mut forget = tx
                .prepare_cached("DELETE FROM messages WHERE id = ?1")
                .map_err(|e| failed("forget", e))?;
            let mut forget_key = tx
                .prepare_cached("DELETE FROM operator_ids WHERE key = ?1 AND id = ?2")
                .map_err(|e| failed("forget", e))?;
            let mut event = tx
                .prepare_cached("INSERT OR IGNORE INTO events (seq, at, event) VALUES (?1, ?2, ?3)")
                .map_err(|e| failed("events", e))?;
            let mut trim = tx
                .prepare_cached(
                    "DELETE FROM events WHERE seq IN
                     (SELECT seq FROM (SELECT seq, at FROM events ORDER BY seq LIMIT ?3)
                      WHERE seq <= ?1 OR at < ?2)",
                )
                .map_err(|e| failed("trim events", e))?;
            for write in writes {
                match write {
                    HistoryWrite::Put(m) => {
                        let record = codec::encode_record(m)?;
                        put.execute(params![
                            m.id.0 as i64,
                            m.reference,
                            m.kind.as_str(),
                            m.state.as_str(),
                            record
                        ])
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
        }
        tx.commit().map_err(|e| failed("commit", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Part, Transition};

    fn finished(id: u64, reference: Option<&str>) -> Message {
        Message {
            id: MessageId(id),
            reference: reference.map(str::to_owned),
            kind: Kind::Notification,
            recipient: "77011234567".into(),
            sender: None,
            text: Some("Сәлем".into()),
            created: 1,
            send_by: None,
            receipt_by: None,
            attempts: 1,
            next_try: 1,
            state: State::Delivered,
            operator: Some("kcell".into()),
            parts: vec![Part {
                operator_id: Some(format!("ab{id:04x}")),
                receipt: Some("DELIVRD".into()),
                error: None,
                receipt_at: Some(2),
            }],
            history: vec![Transition {
                state: State::Delivered,
                at: 2,
                reason: None,
            }],
            extra: Default::default(),
            concat_ref: None,
        }
    }

    #[test]
    fn what_is_put_is_found_by_id_reference_and_operator_id_until_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let history = History::open(dir.path()).unwrap();
        let mut writer = history.writer().unwrap();
        let a = finished(1, Some("crm-1"));
        let b = finished(2, None);
        writer
            .apply(&[
                HistoryWrite::Put(Box::new(a.clone())),
                HistoryWrite::Put(Box::new(b.clone())),
            ])
            .unwrap();
        assert_eq!(history.get(MessageId(1)).unwrap(), Some(a.clone()));
        assert_eq!(history.get_by_reference("crm-1").unwrap(), Some(a.clone()));
        let found = history.references(&["crm-1", "crm-9"]).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found["crm-1"], (MessageId(1), State::Delivered));
        let key = keys::operator_id("kcell", "ab0002");
        assert_eq!(
            history.find_operator_key(&key).unwrap(),
            Some((MessageId(2), 0))
        );
        assert_eq!(
            history.counts().unwrap(),
            vec![(Kind::Notification, State::Delivered, 2)]
        );
        let page = history.page(MessageId(0), MessageId(2), 10).unwrap();
        assert_eq!(page, vec![a.clone()]);

        writer.apply(&[HistoryWrite::Forget(Box::new(b))]).unwrap();
        assert_eq!(history.get(MessageId(2)).unwrap(), None);
        assert_eq!(history.find_operator_key(&key).unwrap(), None);
        drop(writer);
        drop(history);
        let reopened = History::open(dir.path()).unwrap();
        assert_eq!(reopened.get(MessageId(1)).unwrap(), Some(a));
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let c = Connection::open(dir.path().join(FILE)).unwrap();
        c.execute_batch("PRAGMA user_version = 99;").unwrap();
        drop(c);
        let refused = History::open(dir.path()).err().unwrap().to_string();
        assert!(refused.contains("history schema 99"), "{refused}");
    }
}
