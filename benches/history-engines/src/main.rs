//! Candidate engines for khabar's history tier, measured on the same records: khabar's own
//! message records (store codec, format 2) of finished messages — half Kazakh, a tenth of
//! 2–3 parts, receipts and four states each — keyed by id, with a reference index on half of
//! them. For each engine, in fresh processes: fill N records in batches of 1,000 (one
//! transaction each), reopen and read 20,000 random old records by id and 5,000 by reference,
//! then purge the oldest 1/180 (a day of a 180-day history).
//!
//! `history-engines all --records 1000000` runs everything and prints one table.

use clap::{Parser, Subcommand};
use khabar::message::{Extra, Kind, Message, MessageId, Part, State, Transition};
use rand::{Rng, SeedableRng};
use redb::ReadableTable;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Every engine, every phase, each phase in a child process.
    All {
        #[arg(long, default_value_t = 1_000_000)]
        records: u64,
        /// Where the stores go (one folder per engine, deleted afterwards).
        #[arg(long, default_value = "/tmp/history-engines")]
        dir: PathBuf,
        /// Engines to run (sled, sqlite, redb, fjall).
        #[arg(long, value_delimiter = ',', default_value = "sled,sqlite,redb,fjall")]
        engines: Vec<String>,
        /// Records as they are after retention erased their text.
        #[arg(long)]
        erased: bool,
    },
    /// One phase of one engine (run by `all`).
    Phase {
        engine: String,
        phase: String,
        dir: PathBuf,
        records: u64,
        #[arg(long)]
        erased: bool,
    },
}

/// What one engine must do for the history tier.
trait Engine {
    fn put_batch(&mut self, items: &[(u64, Option<String>, Vec<u8>)]);
    fn get(&self, id: u64) -> Option<Vec<u8>>;
    fn get_by_ref(&self, reference: &str) -> Option<Vec<u8>>;
    /// Deletes every record below `id` and its reference; how many.
    fn purge_below(&mut self, id: u64) -> u64;
    fn flush(&mut self);
}

/// Value of the key-value engines: the reference (to delete its index entry) then the record.
fn kv_value(reference: &Option<String>, record: &[u8]) -> Vec<u8> {
    let r = reference.as_deref().unwrap_or("");
    let mut v = Vec::with_capacity(1 + r.len() + record.len());
    v.push(r.len() as u8);
    v.extend_from_slice(r.as_bytes());
    v.extend_from_slice(record);
    v
}

fn kv_reference(value: &[u8]) -> Option<&[u8]> {
    let n = *value.first()? as usize;
    (n > 0).then(|| &value[1..1 + n])
}

struct Sled {
    records: sled::Tree,
    refs: sled::Tree,
    db: sled::Db,
}

impl Sled {
    fn open(dir: &Path) -> Self {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(32 << 20)
            .flush_every_ms(None)
            .open()
            .unwrap();
        Sled {
            records: db.open_tree("h").unwrap(),
            refs: db.open_tree("r").unwrap(),
            db,
        }
    }
}

impl Engine for Sled {
    fn put_batch(&mut self, items: &[(u64, Option<String>, Vec<u8>)]) {
        let mut records = sled::Batch::default();
        let mut refs = sled::Batch::default();
        for (id, reference, record) in items {
            records.insert(&id.to_be_bytes(), kv_value(reference, record));
            if let Some(r) = reference {
                refs.insert(r.as_bytes(), &id.to_be_bytes());
            }
        }
        self.records.apply_batch(records).unwrap();
        self.refs.apply_batch(refs).unwrap();
        self.db.flush().unwrap();
    }
    fn get(&self, id: u64) -> Option<Vec<u8>> {
        self.records
            .get(id.to_be_bytes())
            .unwrap()
            .map(|v| v.to_vec())
    }
    fn get_by_ref(&self, reference: &str) -> Option<Vec<u8>> {
        let id = self.refs.get(reference).unwrap()?;
        self.records.get(id).unwrap().map(|v| v.to_vec())
    }
    fn purge_below(&mut self, id: u64) -> u64 {
        let mut n = 0;
        loop {
            let page: Vec<_> = self
                .records
                .range(..id.to_be_bytes())
                .take(1000)
                .map(|kv| kv.unwrap())
                .collect();
            if page.is_empty() {
                break;
            }
            let mut records = sled::Batch::default();
            let mut refs = sled::Batch::default();
            for (k, v) in &page {
                records.remove(k);
                if let Some(r) = kv_reference(v) {
                    refs.remove(r);
                }
            }
            self.records.apply_batch(records).unwrap();
            self.refs.apply_batch(refs).unwrap();
            n += page.len() as u64;
        }
        self.db.flush().unwrap();
        n
    }
    fn flush(&mut self) {
        self.db.flush().unwrap();
    }
}

struct Sqlite(rusqlite::Connection);

impl Sqlite {
    fn open(dir: &Path) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let c = rusqlite::Connection::open(dir.join("history.db")).unwrap();
        c.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -32768;
             PRAGMA auto_vacuum = INCREMENTAL;
             CREATE TABLE IF NOT EXISTS history (id INTEGER PRIMARY KEY, reference TEXT, record BLOB NOT NULL);
             CREATE UNIQUE INDEX IF NOT EXISTS history_reference ON history(reference) WHERE reference IS NOT NULL;",
        )
        .unwrap();
        Sqlite(c)
    }
}

impl Engine for Sqlite {
    fn put_batch(&mut self, items: &[(u64, Option<String>, Vec<u8>)]) {
        let tx = self.0.transaction().unwrap();
        {
            let mut insert = tx
                .prepare_cached("INSERT INTO history (id, reference, record) VALUES (?1, ?2, ?3)")
                .unwrap();
            for (id, reference, record) in items {
                insert.execute((*id as i64, reference, record)).unwrap();
            }
        }
        tx.commit().unwrap();
    }
    fn get(&self, id: u64) -> Option<Vec<u8>> {
        let mut q = self
            .0
            .prepare_cached("SELECT record FROM history WHERE id = ?1")
            .unwrap();
        q.query_row([id as i64], |r| r.get(0)).ok()
    }
    fn get_by_ref(&self, reference: &str) -> Option<Vec<u8>> {
        let mut q = self
            .0
            .prepare_cached("SELECT record FROM history WHERE reference = ?1")
            .unwrap();
        q.query_row([reference], |r| r.get(0)).ok()
    }
    fn purge_below(&mut self, id: u64) -> u64 {
        let mut n = 0;
        loop {
            let deleted = self
                .0
                .execute(
                    "DELETE FROM history WHERE id IN (SELECT id FROM history WHERE id < ?1 LIMIT 1000)",
                    [id as i64],
                )
                .unwrap();
            if deleted == 0 {
                break;
            }
            n += deleted as u64;
        }
        self.0
            .execute_batch("PRAGMA incremental_vacuum; PRAGMA wal_checkpoint(TRUNCATE);")
            .unwrap();
        n
    }
    fn flush(&mut self) {
        self.0
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .unwrap();
    }
}

const REDB_RECORDS: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("h");
const REDB_REFS: redb::TableDefinition<&str, u64> = redb::TableDefinition::new("r");

struct Redb(redb::Database);

impl Redb {
    fn open(dir: &Path) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let db = redb::Builder::new()
            .set_cache_size(32 << 20)
            .create(dir.join("history.redb"))
            .unwrap();
        Redb(db)
    }
}

impl Engine for Redb {
    fn put_batch(&mut self, items: &[(u64, Option<String>, Vec<u8>)]) {
        let tx = self.0.begin_write().unwrap();
        {
            let mut records = tx.open_table(REDB_RECORDS).unwrap();
            let mut refs = tx.open_table(REDB_REFS).unwrap();
            for (id, reference, record) in items {
                records
                    .insert(*id, kv_value(reference, record).as_slice())
                    .unwrap();
                if let Some(r) = reference {
                    refs.insert(r.as_str(), *id).unwrap();
                }
            }
        }
        tx.commit().unwrap();
    }
    fn get(&self, id: u64) -> Option<Vec<u8>> {
        let tx = self.0.begin_read().unwrap();
        let t = tx.open_table(REDB_RECORDS).unwrap();
        t.get(id).unwrap().map(|v| v.value().to_vec())
    }
    fn get_by_ref(&self, reference: &str) -> Option<Vec<u8>> {
        let tx = self.0.begin_read().unwrap();
        let refs = tx.open_table(REDB_REFS).unwrap();
        let id = refs.get(reference).unwrap()?.value();
        let t = tx.open_table(REDB_RECORDS).unwrap();
        t.get(id).unwrap().map(|v| v.value().to_vec())
    }
    fn purge_below(&mut self, id: u64) -> u64 {
        let mut n = 0;
        loop {
            let tx = self.0.begin_write().unwrap();
            let done;
            {
                let mut records = tx.open_table(REDB_RECORDS).unwrap();
                let mut refs = tx.open_table(REDB_REFS).unwrap();
                let page: Vec<(u64, Vec<u8>)> = records
                    .range(..id)
                    .unwrap()
                    .take(1000)
                    .map(|kv| {
                        let (k, v) = kv.unwrap();
                        (k.value(), v.value().to_vec())
                    })
                    .collect();
                done = page.is_empty();
                for (k, v) in &page {
                    records.remove(*k).unwrap();
                    if let Some(r) = kv_reference(v) {
                        refs.remove(std::str::from_utf8(r).unwrap()).unwrap();
                    }
                }
                n += page.len() as u64;
            }
            tx.commit().unwrap();
            if done {
                break;
            }
        }
        n
    }
    fn flush(&mut self) {}
}

struct Fjall {
    keyspace: fjall::Keyspace,
    records: fjall::PartitionHandle,
    refs: fjall::PartitionHandle,
}

impl Fjall {
    fn open(dir: &Path) -> Self {
        let keyspace = fjall::Config::new(dir).cache_size(32 << 20).open().unwrap();
        let options = || fjall::PartitionCreateOptions::default();
        Fjall {
            records: keyspace.open_partition("h", options()).unwrap(),
            refs: keyspace.open_partition("r", options()).unwrap(),
            keyspace,
        }
    }
}

impl Engine for Fjall {
    fn put_batch(&mut self, items: &[(u64, Option<String>, Vec<u8>)]) {
        let mut batch = self.keyspace.batch();
        for (id, reference, record) in items {
            batch.insert(&self.records, id.to_be_bytes(), kv_value(reference, record));
            if let Some(r) = reference {
                batch.insert(&self.refs, r.as_bytes(), id.to_be_bytes());
            }
        }
        batch.commit().unwrap();
        self.keyspace.persist(fjall::PersistMode::SyncData).unwrap();
    }
    fn get(&self, id: u64) -> Option<Vec<u8>> {
        self.records
            .get(id.to_be_bytes())
            .unwrap()
            .map(|v| v.to_vec())
    }
    fn get_by_ref(&self, reference: &str) -> Option<Vec<u8>> {
        let id = self.refs.get(reference).unwrap()?;
        self.records.get(id).unwrap().map(|v| v.to_vec())
    }
    fn purge_below(&mut self, id: u64) -> u64 {
        let mut n = 0;
        loop {
            let page: Vec<_> = self
                .records
                .range(..id.to_be_bytes())
                .take(1000)
                .map(|kv| kv.unwrap())
                .collect();
            if page.is_empty() {
                break;
            }
            let mut batch = self.keyspace.batch();
            for (k, v) in &page {
                batch.remove(&self.records, k.clone());
                if let Some(r) = kv_reference(v) {
                    batch.remove(&self.refs, r.to_vec());
                }
            }
            batch.commit().unwrap();
            n += page.len() as u64;
        }
        self.keyspace.persist(fjall::PersistMode::SyncData).unwrap();
        n
    }
    fn flush(&mut self) {
        self.keyspace.persist(fjall::PersistMode::SyncData).unwrap();
    }
}

fn open(engine: &str, dir: &Path) -> Box<dyn Engine> {
    match engine {
        "sled" => Box::new(Sled::open(dir)),
        "sqlite" => Box::new(Sqlite::open(dir)),
        "redb" => Box::new(Redb::open(dir)),
        "fjall" => Box::new(Fjall::open(dir)),
        other => panic!("unknown engine {other}"),
    }
}

/// Ids as khabar makes them: sortable by time, the oldest first; N records over 180 days.
fn id_of(i: u64, records: u64) -> u64 {
    let day_ms = 86_400_000u64;
    let start = 1_780_000_000_000u64;
    let at = start + i * 180 * day_ms / records.max(1);
    (at << 16) | (i & 0xffff)
}

const KAZAKH: &str = "Құрметті азамат! Сіздің «Баланың тууына байланысты біржолғы төлем тағайындау» \
    мемлекеттік қызметі бойынша өтінішіңіз қаралды және оң шешім қабылданды. Төлем 10 жұмыс \
    күні ішінде сіздің шотыңызға аударылады. Сұрақтар бойынша 1414 нөміріне хабарласыңыз.";
const LATIN: &str = "Your application to eGov was received and registered under number 2026-1189-4471. \
    The decision will be sent by SMS within one working day. Questions: call 1414 or visit egov.kz. ";

/// A finished message as khabar stores it: the i-th of the history.
fn record(i: u64, records: u64, erased: bool) -> (u64, Option<String>, Vec<u8>) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(i);
    let id = id_of(i, records);
    let kazakh = i.is_multiple_of(2);
    let long = i.is_multiple_of(10);
    let chars = if long {
        rng.random_range(100..180)
    } else {
        rng.random_range(40..70)
    };
    let source = if kazakh { KAZAKH } else { LATIN };
    let text: String = source
        .chars()
        .cycle()
        .skip(i as usize % 50)
        .take(chars)
        .collect();
    let parts_n = if long { rng.random_range(2..=3) } else { 1 };
    let created = (id >> 16) as i64;
    let parts = (0..parts_n)
        .map(|p| Part {
            operator_id: Some(format!("{:011x}{:08x}", created, i * 4 + p)),
            receipt: Some("DELIVRD".into()),
            error: None,
            receipt_at: Some(created + 2_000),
        })
        .collect();
    let states = [
        State::Queued,
        State::Submitting,
        State::Submitted,
        State::Delivered,
    ];
    let history = states
        .iter()
        .enumerate()
        .map(|(n, s)| Transition {
            state: *s,
            at: created + n as i64 * 300,
            reason: (*s == State::Delivered).then(|| "DELIVRD".to_owned()),
        })
        .collect();
    let reference = i.is_multiple_of(2).then(|| format!("egov-{:012}", i));
    let message = Message {
        id: MessageId(id),
        reference: reference.clone(),
        kind: Kind::Notification,
        recipient: format!("7701{:07}", 1_000_000 + i % 8_000_000),
        sender: None,
        text: (!erased).then_some(text),
        created,
        send_by: Some(created + 86_400_000),
        receipt_by: None,
        attempts: 1,
        next_try: created,
        state: State::Delivered,
        operator: Some("kcell".into()),
        parts,
        history,
        extra: Extra::default(),
        concat_ref: long.then_some((i & 0xff) as u16),
    };
    let bytes = khabar::store::codec::encode_record(&message).unwrap();
    (id, reference, bytes)
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

fn disk_bytes(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let meta = entry.metadata().unwrap();
        total += if meta.is_dir() {
            disk_bytes(&entry.path())
        } else {
            meta.blocks() * 512
        };
    }
    total
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn phase(engine: &str, phase: &str, dir: &Path, records: u64, erased: bool) {
    let started = Instant::now();
    let mut db = open(engine, dir);
    let opened = started.elapsed();
    match phase {
        "fill" => {
            let mut raw = 0u64;
            let mut batch = Vec::with_capacity(1000);
            for i in 0..records {
                let r = record(i, records, erased);
                raw += r.2.len() as u64;
                batch.push(r);
                if batch.len() == 1000 {
                    db.put_batch(&batch);
                    batch.clear();
                }
            }
            if !batch.is_empty() {
                db.put_batch(&batch);
            }
            db.flush();
            let secs = started.elapsed().as_secs_f64();
            println!(
                "fill {engine}: {records} records in {secs:.1} s ({:.0}/s), record bytes {:.0} on average, RSS {:.0} MiB",
                records as f64 / secs,
                raw as f64 / records as f64,
                rss_mib()
            );
        }
        "probe" => {
            let rss_open = rss_mib();
            let mut rng = rand::rngs::StdRng::seed_from_u64(7);
            let mut by_id = Vec::with_capacity(20_000);
            for _ in 0..20_000 {
                let i = rng.random_range(0..records);
                let t = Instant::now();
                assert!(db.get(id_of(i, records)).is_some());
                by_id.push(t.elapsed());
            }
            let mut by_ref = Vec::with_capacity(5_000);
            for _ in 0..5_000 {
                let i = rng.random_range(0..records / 2) * 2;
                let t = Instant::now();
                assert!(db.get_by_ref(&format!("egov-{:012}", i)).is_some());
                by_ref.push(t.elapsed());
            }
            by_id.sort();
            by_ref.sort();
            println!(
                "probe {engine}: open {:.2} s, RSS after open {rss_open:.0} MiB, after reads {:.0} MiB; get by id p50 {:.3} ms p99 {:.3} ms; by reference p50 {:.3} ms p99 {:.3} ms; disk {:.0} bytes/record",
                opened.as_secs_f64(),
                rss_mib(),
                percentile(&by_id, 0.5),
                percentile(&by_id, 0.99),
                percentile(&by_ref, 0.5),
                percentile(&by_ref, 0.99),
                disk_bytes(dir) as f64 / records as f64
            );
        }
        "purge" => {
            let cutoff = id_of(records / 180, records);
            let t = Instant::now();
            let n = db.purge_below(cutoff);
            println!(
                "purge {engine}: {n} records (a day) in {:.2} s, RSS {:.0} MiB",
                t.elapsed().as_secs_f64(),
                rss_mib()
            );
        }
        other => panic!("unknown phase {other}"),
    }
}

fn main() {
    match Cli::parse().command {
        Command::Phase {
            engine,
            phase: p,
            dir,
            records,
            erased,
        } => phase(&engine, &p, &dir, records, erased),
        Command::All {
            records,
            dir,
            engines,
            erased,
        } => {
            let me = std::env::current_exe().unwrap();
            for engine in &engines {
                let place = dir.join(engine);
                let _ = std::fs::remove_dir_all(&place);
                for p in ["fill", "probe", "purge"] {
                    let mut cmd = std::process::Command::new(&me);
                    cmd.args(["phase", engine, p])
                        .arg(&place)
                        .arg(records.to_string());
                    if erased {
                        cmd.arg("--erased");
                    }
                    let status = cmd.status().unwrap();
                    assert!(status.success(), "{engine} {p}");
                }
                println!(
                    "settled {engine}: disk {:.0} bytes/record after the purge",
                    disk_bytes(&place) as f64 / (records - records / 180) as f64
                );
                let _ = std::fs::remove_dir_all(&place);
            }
        }
    }
}
