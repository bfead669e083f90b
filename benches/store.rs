//! Store benchmark (not a test): durable accepts per second by concurrency and batch size,
//! then RSS, disk size, reopen time and the first claim after reopen with 1M and 5M messages
//! queued.
//!
//! ```text
//! cargo bench --bench store                 # full run (the 5M fill takes a few minutes)
//! cargo bench --bench store -- --quick      # a tenth of the sizes
//! cargo bench --bench store -- --fill 1000000,5000000 --skip-accepts
//! cargo bench --bench store -- --quick --skip-fill --engine postgres   # the cluster engine
//! ```
//!
//! With `--engine postgres` the accepts go to a PostgreSQL server the bench starts on this
//! machine (test-postgres: fsync and `synchronous_commit` on, as PostgreSQL ships), one fresh
//! database per case; the fill and reopen figures are sled's only.
//!
//! Reopen figures come from a fresh process (this binary re-run with `--reopen DIR`), so they
//! show what a restarted daemon holds, not what the filling process accumulated.

use khabar::message::{Extra, Kind, NewMessage, now_ms};
use khabar::store::{PostgresConfig, Store, StoreConfig};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use test_postgres::TestPostgres;

const TEXT: &str = "Құрметті алушы! Әлеуметтік төлем бойынша өтінішіңіз қабылданды. Нөмірі: 000123";

struct Args {
    quick: bool,
    postgres: bool,
    skip_accepts: bool,
    fill: Vec<u64>,
    reopen: Option<String>,
}

fn parse_args() -> Args {
    let mut args = Args {
        quick: false,
        postgres: false,
        skip_accepts: false,
        fill: vec![1_000_000, 5_000_000],
        reopen: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => args.quick = true,
            "--skip-accepts" => args.skip_accepts = true,
            "--skip-fill" => args.fill.clear(),
            "--fill" => {
                let list = it.next().unwrap_or_default();
                args.fill = list
                    .split(',')
                    .filter_map(|n| n.trim().parse().ok())
                    .collect();
            }
            "--reopen" => args.reopen = it.next(),
            "--engine" => args.postgres = it.next().as_deref() == Some("postgres"),
            _ => {} // cargo passes --bench
        }
    }
    if args.quick {
        args.fill.iter_mut().for_each(|n| *n /= 10);
    }
    args
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

fn dir_mib(path: &Path) -> f64 {
    fn walk(path: &Path) -> u64 {
        std::fs::read_dir(path)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| match e.metadata() {
                        Ok(m) if m.is_dir() => walk(&e.path()),
                        Ok(m) => m.len(),
                        Err(_) => 0,
                    })
                    .sum()
            })
            .unwrap_or(0)
    }
    walk(path) as f64 / (1 << 20) as f64
}

/// A realistic message: Kazakh text, a normalised number, a unique upstream reference.
fn message(n: u64, tag: &str) -> NewMessage {
    NewMessage {
        reference: Some(format!(
            "{tag}-{:016x}",
            n.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        )),
        kind: if n.is_multiple_of(10) {
            Kind::Notification
        } else {
            Kind::Bulk
        },
        recipient: format!("7701{:07}", n % 10_000_000),
        sender: Some("eGov".into()),
        text: TEXT.into(),
        send_by: None,
        receipt_by: None,
        extra: Extra::default(),
    }
}

fn open(dir: &Path) -> Store {
    Store::open(&StoreConfig::at(dir)).expect("open the store")
}

/// Where a case's accepts go: a fresh sled store, or a fresh database on a PostgreSQL server.
enum Target<'a> {
    Sled,
    Postgres(&'a TestPostgres),
}

/// A fresh, empty store of the target's engine (and the folder a sled store lives in).
async fn fresh(target: &Target<'_>, case: &str) -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = match target {
        Target::Sled => open(dir.path()),
        Target::Postgres(pg) => {
            let database = format!("bench_{case}");
            pg.psql("postgres", &format!("CREATE DATABASE {database}"))
                .expect("create the case's database");
            let config = PostgresConfig {
                port: pg.port(),
                database,
                user: test_postgres::USER.into(),
                ..PostgresConfig::default()
            };
            Store::open_cluster(&config, "bench", &StoreConfig::at(dir.path()))
                .await
                .expect("open the cluster store")
        }
    };
    (store, dir)
}

/// `writers` tasks accept single messages until `total` are accepted; returns accepts/s.
async fn concurrent_accepts(target: &Target<'_>, writers: u64, total: u64) -> f64 {
    let (store, _dir) = fresh(target, &format!("w{writers}")).await;
    let per_writer = total / writers;
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..writers {
        let store = store.clone();
        tasks.spawn(async move {
            for i in 0..per_writer {
                store
                    .accept(message(w * per_writer + i, "c"))
                    .await
                    .unwrap();
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    (per_writer * writers) as f64 / start.elapsed().as_secs_f64()
}

/// One writer accepts batches of `size` until `total`; returns accepts/s.
async fn batch_accepts(target: &Target<'_>, size: u64, total: u64) -> f64 {
    let (store, _dir) = fresh(target, &format!("b{size}")).await;
    let start = Instant::now();
    for b in 0..total / size {
        let batch = (0..size).map(|i| message(b * size + i, "b")).collect();
        for answer in store.accept_batch(batch).await {
            answer.unwrap();
        }
    }
    (total / size * size) as f64 / start.elapsed().as_secs_f64()
}

/// Fills a store to `queued` messages with batches of 1,000 from 4 writers, then measures a
/// reopen in a fresh process.
async fn fill_and_reopen(queued: u64) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let start = Instant::now();
    let writers = 4;
    let per_writer = queued / writers;
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..writers {
        let store = store.clone();
        tasks.spawn(async move {
            let mut done = 0;
            while done < per_writer {
                let size = 1_000.min(per_writer - done);
                let batch = (0..size)
                    .map(|i| message(w * per_writer + done + i, "f"))
                    .collect();
                for answer in store.accept_batch(batch).await {
                    answer.unwrap();
                }
                done += size;
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let fill = start.elapsed().as_secs_f64();
    let total = store.counts().total();
    println!(
        "fill {total:>9} queued: {fill:>7.1} s ({:>7.0} accepts/s), RSS of the filling process {:>6.1} MiB",
        total as f64 / fill,
        rss_mib()
    );
    drop(store);
    println!("                  disk {:>8.1} MiB", dir_mib(dir.path()));
    let exe = std::env::current_exe().unwrap();
    let status = Command::new(exe)
        .arg("--reopen")
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success(), "the reopen process failed");
}

/// Runs in a fresh process: open, first claim, a few thousand claims; prints RSS and times.
async fn reopen(dir: &Path) {
    let before = rss_mib();
    let start = Instant::now();
    let store = open(dir);
    let opened = start.elapsed();
    let rss_open = rss_mib();
    let start = Instant::now();
    let first = store
        .claim_next(Kind::Notification, now_ms() + 1)
        .await
        .unwrap();
    let first_claim = start.elapsed();
    assert!(first.is_some(), "a message is due");
    let start = Instant::now();
    let claims = 5_000;
    for i in 0..claims {
        let kind = if i % 10 == 0 {
            Kind::Notification
        } else {
            Kind::Bulk
        };
        store.claim_next(kind, now_ms() + 1).await.unwrap();
    }
    let claim_rate = claims as f64 / start.elapsed().as_secs_f64();
    println!(
        "reopen {:>9} queued: open {:>6.2} s, first claim {:>7.2} ms, {claim_rate:>6.0} claims/s; \
         RSS {before:.1} MiB before, {rss_open:.1} after open, {:.1} after claims",
        store.counts().total(),
        opened.as_secs_f64(),
        first_claim.as_secs_f64() * 1e3,
        rss_mib(),
    );
}

fn main() {
    let args = parse_args();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    if let Some(dir) = &args.reopen {
        runtime.block_on(reopen(Path::new(dir)));
        return;
    }
    let scale = if args.quick { 10 } else { 1 };
    let durable = || {
        TestPostgres::start_with(test_postgres::Options {
            flush_to_disk: true,
            ..Default::default()
        })
    };
    let server = args.postgres.then(durable);
    let target = match &server {
        Some(pg) => Target::Postgres(pg),
        None => Target::Sled,
    };
    match &target {
        Target::Sled => println!(
            "store benchmark: durable accepts (each answered after its fsync), sled, cache 64 MiB"
        ),
        Target::Postgres(_) => println!(
            "store benchmark: durable accepts (each answered after its commit), PostgreSQL on this machine"
        ),
    }
    if !args.skip_accepts {
        let cases: [(&str, u64, u64); 3] = [
            ("1 writer", 1, 3_000),
            ("64 writers", 64, 100_000),
            ("512 writers", 512, 300_000),
        ];
        for (name, writers, total) in cases {
            let rate = runtime.block_on(concurrent_accepts(&target, writers, total / scale));
            println!(
                "{name:>16}: {rate:>8.0} accepts/s ({} messages)",
                total / scale
            );
        }
        for size in [100, 1_000] {
            let total = 300_000 / scale;
            let rate = runtime.block_on(batch_accepts(&target, size, total));
            println!(
                "{:>16}: {rate:>8.0} accepts/s ({total} messages)",
                format!("batches of {size}")
            );
        }
    }
    if server.is_some() {
        return;
    }
    for &queued in &args.fill {
        runtime.block_on(fill_and_reopen(queued));
        std::thread::sleep(Duration::from_millis(100));
    }
}
