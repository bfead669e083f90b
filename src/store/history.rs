//! The history tier: finished messages, moved out of the live store into one SQLite
//! file beside it, `history.sqlite` in the store's directory. The live store then holds only
//! what is queued, in flight or awaiting a receipt, so its memory and disk follow the queue;
//! the history is large, cold and read rarely (`show`, `get`, idempotent references, late
//! receipts, retention), and SQLite keeps it in a page cache of bounded size whatever its
//! length (docs/BENCHMARKS.md, "History tier: choosing its engine").
//!
//! One row per message: its record in the store's own encoding (`codec::encode_record`), with
//! its id, reference, kind and state as columns for lookups and counts; its text in a table of
//! its own, so that erasing texts deletes whole rows and frees whole pages for new texts (a
//! record rewritten smaller in place leaves room in its page that rows appended later never
//! use); one row per operator message id for receipts that come after a message moved; and the
//! event log, moved here once durable from the live store (where a few seconds of it stay).
//! Rows written by schema 1 keep their text inside the record until it is erased or forgotten. Writes come in batches from the
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

mod packing;
mod write;
use packing::{Training, Unpacker};
pub use write::{HistoryWrite, HistoryWriter};

/// The file name, in the store's directory.
pub const FILE: &str = "history.sqlite";
/// The schema this release writes (`PRAGMA user_version`); a newer one is refused. Schema 2
/// added `texts` (a release that reads only schema 1 would show moved messages without text);
/// schema 3 `dictionaries` and packed records (`packing`), which schema 2 cannot read.
const SCHEMA: i64 = 3;
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
CREATE TABLE IF NOT EXISTS texts (
    id INTEGER PRIMARY KEY,
    text TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS operator_ids (
    key BLOB PRIMARY KEY,
    id INTEGER NOT NULL,
    part INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dictionaries (
    id INTEGER PRIMARY KEY,
    dict BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    event BLOB NOT NULL
);
";

/// One event as the history keeps it: its seq, when it happened, its encoding
/// (`codec::encode(EVENT_VERSION, ..)`).
pub type EventRow = (u64, i64, Vec<u8>);

/// The history file, shared by every thread that reads it.
pub struct History {
    path: PathBuf,
    /// Idle reading connections (SQLite connections are not shared between threads at once),
    /// each with what it unpacks records with.
    readers: Mutex<Vec<(Connection, Unpacker)>>,
}

/// Counts per kind and state and, for each id asked, its kind and state if it is there.
pub type CountsAndStates = (Vec<(Kind, State, u64)>, Vec<Option<(Kind, State)>>);

/// A message's columns as [`SELECT_MESSAGE`] reads them: its record and its text.
type Row = (Vec<u8>, Option<String>);

/// The record and text of the messages the `WHERE` clause that follows picks.
const SELECT_MESSAGE: &str =
    "SELECT m.record, t.text FROM messages m LEFT JOIN texts t ON t.id = m.id";

/// Reads a [`Row`] from the first two columns.
fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok((r.get(0)?, r.get(1)?))
}

/// The message a [`Row`] read on `c` holds (a schema-1 row has its text in the record).
fn message_of(
    c: &Connection,
    unpacker: &mut Unpacker,
    (record, text): Row,
) -> Result<Message, StoreError> {
    let mut message = codec::decode_record(&unpacker.unpack(c, &record)?)?;
    if text.is_some() {
        message.text = text;
    }
    Ok(message)
}

/// The message with this id, on connection `c`.
fn get_on(
    c: &Connection,
    unpacker: &mut Unpacker,
    id: MessageId,
) -> Result<Option<Message>, StoreError> {
    let mut q = c
        .prepare_cached(&format!("{SELECT_MESSAGE} WHERE m.id = ?1"))
        .map_err(|e| failed("get", e))?;
    let found = q
        .query_row([id.0 as i64], row)
        .optional()
        .map_err(|e| failed("get", e))?;
    found.map(|row| message_of(c, unpacker, row)).transpose()
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
    crate::message::State::ALL
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
            readers: Mutex::new(vec![(c, Unpacker::default())]),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A connection for writing (the flusher's own).
    pub fn writer(&self) -> Result<HistoryWriter, StoreError> {
        self.writer_training(Training::default())
    }

    /// A connection for writing that trains its dictionaries as `training` says.
    fn writer_training(&self, training: Training) -> Result<HistoryWriter, StoreError> {
        HistoryWriter::new(connect(&self.path, WRITER_CACHE_KIB)?, training)
    }

    /// Runs `f` on an idle reading connection and its unpacker.
    fn read<T>(
        &self,
        f: impl FnOnce(&Connection, &mut Unpacker) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let idle = self.readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let (c, mut unpacker) = match idle {
            Some(reader) => reader,
            None => (connect(&self.path, READER_CACHE_KIB)?, Unpacker::default()),
        };
        let result = f(&c, &mut unpacker);
        self.readers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((c, unpacker));
        result
    }

    /// The message with this id, if it moved here.
    pub fn get(&self, id: MessageId) -> Result<Option<Message>, StoreError> {
        self.read(|c, unpacker| get_on(c, unpacker, id))
    }

    /// The message upstream handed over with this reference, if it moved here.
    pub fn get_by_reference(&self, reference: &str) -> Result<Option<Message>, StoreError> {
        self.read(|c, unpacker| {
            let mut q = c
                .prepare_cached(&format!("{SELECT_MESSAGE} WHERE m.reference = ?1"))
                .map_err(|e| failed("get by reference", e))?;
            let found = q
                .query_row([reference], row)
                .optional()
                .map_err(|e| failed("get by reference", e))?;
            found.map(|row| message_of(c, unpacker, row)).transpose()
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
        self.read(|c, _| {
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
        self.read(|c, _| {
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
        self.read(|c, unpacker| {
            let mut q = c
                .prepare_cached(&format!(
                    "{SELECT_MESSAGE} WHERE m.id > ?1 AND m.id < ?2 ORDER BY m.id LIMIT ?3"
                ))
                .map_err(|e| failed("page", e))?;
            let rows = q
                .query_map(params![after.0 as i64, below.0 as i64, limit as i64], row)
                .map_err(|e| failed("page", e))?;
            let mut out = Vec::new();
            for found in rows {
                out.push(message_of(
                    c,
                    unpacker,
                    found.map_err(|e| failed("page", e))?,
                )?);
            }
            Ok(out)
        })
    }

    /// How many messages of each kind are here in each state.
    pub fn counts(&self) -> Result<Vec<(Kind, State, u64)>, StoreError> {
        self.read(|c, _| counts_on(c))
    }

    /// [`History::counts`] and the kind and state of each of `ids` here (their columns, as the
    /// counts read them), read from one snapshot (a commit between two separate reads would
    /// count a message twice or never).
    pub fn counts_and_states(&self, ids: &[MessageId]) -> Result<CountsAndStates, StoreError> {
        self.read(|c, _| {
            let snapshot = c.unchecked_transaction().map_err(|e| failed("counts", e))?;
            let counts = counts_on(&snapshot)?;
            let mut q = snapshot
                .prepare_cached("SELECT kind, state FROM messages WHERE id = ?1")
                .map_err(|e| failed("states", e))?;
            let mut states = Vec::with_capacity(ids.len());
            for id in ids {
                let found: Option<(String, String)> = q
                    .query_row([id.0 as i64], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
                    .map_err(|e| failed("states", e))?;
                states.push(found.map(|(kind, state)| (kind_of(&kind), state_of(&state))));
            }
            drop(q);
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
        self.read(|c, _| {
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
        self.read(|c, _| {
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
        self.read(|c, _| {
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

#[cfg(test)]
mod tests;
