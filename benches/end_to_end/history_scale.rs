//! Scenario F (`--only history`): the daemon over a store that keeps millions of finished
//! messages, with a small queue.
//!
//! One store grows through the sizes (`--history 1000000,5000000,10000000`; `--quick`:
//! 100,000 and 300,000). Finished messages are made with the `Store` API the way the daemon
//! makes them: accepted in batches of [`BATCH`] (scenario B's texts, `notification`, a
//! reference each), claimed, submitted with an operator id and delivered by a receipt, with
//! `move_to_history_after` zero so they move to the history tier as they finish. At each size
//! [`QUEUED_PER_START`] bulk messages are queued for each start, and then:
//!
//! - [`GETS`] `Store::get` of finished messages picked at random, in this process (the daemon
//!   is not running), timed one by one: the read of an old message by id;
//! - the `khabar` binary started over the store as scenario D starts it: spawn → first
//!   submit_sm at smpp-sim, its RSS then and after [`cold_start::SUBMITS`] submit_sm, its peak.
//!
//! The store stays in the temporary directory between sizes and is removed at the end.

use crate::cold_start;
use crate::harness::{self, Shape};
use crate::traffic;
use crate::{Row, thousands};
use khabar::message::{Kind, MessageId, NewMessage, now_ms};
use khabar::store::disk::free_bytes;
use khabar::store::{Store, StoreConfig};
use smpp_sim::SimHandle;
use std::path::Path;
use std::time::{Duration, Instant};

/// Messages accepted, claimed and finished together while filling.
const BATCH: usize = 2_000;
/// Bulk messages queued for each start (more than the parts it sends).
const QUEUED_PER_START: u64 = 100_000;
/// Reads of random finished messages at each size.
const GETS: usize = 20_000;
/// Disk a finished message takes in both tiers, with room to spare (scenario E measured
/// about 1,100 bytes with the event log).
const BYTES_PER_MESSAGE: u64 = 1_600;
/// Free space kept beyond the store itself.
const HEADROOM: u64 = 2 << 30;
/// How long the last finished messages may take to move to the history once the fill stops
/// (the history's committer yields the CPU to the fill, so the moves lag behind it).
const MOVE_PATIENCE: Duration = Duration::from_secs(30 * 60);
const MIB: f64 = (1 << 20) as f64;

/// Finished message `n`.
fn finished_message(n: u64) -> NewMessage {
    traffic::new_message(n, Kind::Notification, Some(format!("history-{n}")))
}

/// Queued bulk message `n`.
fn queued_message(n: u64) -> NewMessage {
    traffic::new_message(n, Kind::Bulk, None)
}

/// A deterministic pseudo-random sequence (splitmix64): the bench picks ids with it, and the
/// workspace has no random number crate among its dependencies.
struct Picks(u64);

impl Picks {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// The finished messages made so far: the id ranges of their batches.
#[derive(Default)]
pub struct Finished {
    /// How many.
    pub count: u64,
    /// The first and last id of each batch.
    pub ranges: Vec<(u64, u64)>,
}

impl Finished {
    /// A finished message's id picked at random.
    fn pick(&self, picks: &mut Picks) -> MessageId {
        let (first, last) = self.ranges[(picks.next() % self.ranges.len() as u64) as usize];
        MessageId(first + picks.next() % (last - first + 1))
    }
}

/// Makes messages `from..to` finished: accepted, claimed, submitted, delivered.
pub async fn finish(store: &Store, from: u64, to: u64, done: &mut Finished) -> Result<(), String> {
    let mut n = from;
    while n < to {
        let batch: Vec<NewMessage> = (n..(n + BATCH as u64).min(to))
            .map(finished_message)
            .collect();
        let count = batch.len();
        let mut ids = Vec::with_capacity(count);
        for answer in store.accept_batch(batch).await {
            ids.push(answer.map_err(|e| e.to_string())?.id.0);
        }
        let mut finished = 0;
        while finished < count {
            let claimed = store
                .claim_batch(Kind::Notification, now_ms(), count - finished)
                .await
                .map_err(|e| e.to_string())?;
            if claimed.is_empty() {
                return Err(format!("claimed {finished} of {count} accepted"));
            }
            let steps = claimed.into_iter().map(|message| async move {
                let id = message.id;
                let operator_id = format!("{:x}", id.0);
                store
                    .mark_submitted(id, "op-0", vec![operator_id], None)
                    .await?;
                store.record_receipt(id, 0, "DELIVRD", None, now_ms()).await
            });
            finished += futures::future::try_join_all(steps)
                .await
                .map_err(|e| e.to_string())?
                .len();
        }
        if let Some((first, last)) = ids.iter().min().zip(ids.iter().max()) {
            done.ranges.push((*first, *last));
        }
        done.count += count as u64;
        n += count as u64;
    }
    Ok(())
}

/// Waits (flush by flush) until the last finished message is in the history tier.
pub async fn moved(store: &Store, done: &Finished) -> Result<(), String> {
    let Some(&(_, last)) = done.ranges.last() else {
        return Ok(());
    };
    let started = Instant::now();
    while started.elapsed() < MOVE_PATIENCE {
        if store
            .tier_of(MessageId(last))
            .await
            .map_err(|e| e.to_string())?
            == Some(khabar::store::Tier::History)
        {
            return Ok(());
        }
        store.flush().await.map_err(|e| e.to_string())?;
    }
    Err(format!(
        "message {last} not in the history within {MOVE_PATIENCE:?}"
    ))
}

/// `GETS` reads of random finished messages; their times in ms, sorted.
async fn gets(store: &Store, done: &Finished) -> Result<Vec<f64>, String> {
    let mut picks = Picks(done.count);
    let mut times = Vec::with_capacity(GETS);
    for _ in 0..GETS {
        let id = done.pick(&mut picks);
        let started = Instant::now();
        let found = store.get(id).await.map_err(|e| e.to_string())?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        match found {
            Some(message) if message.state.is_final() => {}
            other => return Err(format!("message {id:?} read back as {other:?}")),
        }
    }
    times.sort_by(f64::total_cmp);
    Ok(times)
}

/// The value at quantile `q` of sorted `values`.
fn quantile(values: &[f64], q: f64) -> f64 {
    let at = ((values.len() as f64 - 1.0) * q).round() as usize;
    values.get(at).copied().unwrap_or(0.0)
}

/// Opens the store of `store_dir` for filling (finished messages move at once).
pub fn open(store_dir: &Path) -> Result<Store, String> {
    let mut config = StoreConfig::at(store_dir);
    config.move_to_history_after = Duration::ZERO;
    Store::open(&config).map_err(|e| e.to_string())
}

/// Closes `store` (joins its writer, releases the engine's lock).
pub async fn close(store: Store) -> Result<(), String> {
    store.flush().await.map_err(|e| e.to_string())?;
    tokio::task::spawn_blocking(move || drop(store))
        .await
        .map_err(|e| e.to_string())
}

/// Runs scenario F over `sizes` finished messages; adds its rows to the table.
pub async fn scenario(
    args: &crate::Args,
    sizes: &[u64],
    rows: &mut Vec<Row>,
) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let largest = sizes.iter().copied().max().unwrap_or(0);
    let need = largest * BYTES_PER_MESSAGE + HEADROOM;
    let free = free_bytes(dir.path()).map_err(|e| e.to_string())?;
    if free < need {
        return Err(format!(
            "the history scenario up to {largest} finished messages needs about {:.1} GiB free \
             in {} (the temporary directory; set TMPDIR elsewhere or use --quick), but only \
             {:.1} GiB is free",
            need as f64 / MIB / 1024.0,
            dir.path().display(),
            free as f64 / MIB / 1024.0,
        ));
    }
    let sim = harness::simulator().await?;
    let shape: Shape = crate::e2e_shape(3);
    let outcome = grow(args, sizes, dir.path(), &sim, shape, rows).await;
    sim.shutdown().await;
    outcome
}

async fn grow(
    args: &crate::Args,
    sizes: &[u64],
    dir: &Path,
    sim: &SimHandle,
    shape: Shape,
    rows: &mut Vec<Row>,
) -> Result<(), String> {
    let config = harness::write_config(dir, sim, shape)?;
    let store_dir = dir.join("data").join("store");
    let mut done = Finished::default();
    let mut queued_so_far = 0;
    for &size in sizes {
        let store = open(&store_dir)?;
        let started = Instant::now();
        let from = done.count;
        finish(&store, from, size.max(from), &mut done).await?;
        moved(&store, &done).await?;
        let fill_s = started.elapsed().as_secs_f64();
        let queued = QUEUED_PER_START * args.runs as u64;
        for first in (queued_so_far..queued_so_far + queued).step_by(BATCH) {
            let batch = (first..(first + BATCH as u64).min(queued_so_far + queued))
                .map(queued_message)
                .collect();
            for answer in store.accept_batch(batch).await {
                answer.map_err(|e| e.to_string())?;
            }
        }
        queued_so_far += queued;
        // reads in this task's thread, the runtime told that it blocks
        let times = gets(&store, &done).await?;
        close(store).await?;
        let history: u64 = ["history.sqlite", "history.sqlite-wal", "history.sqlite-shm"]
            .iter()
            .map(|file| harness::disk_bytes(&store_dir.join(file)))
            .sum();
        let live = harness::disk_bytes(&store_dir).saturating_sub(history);
        println!(
            "  {} finished ({} made in {:.0} s, {}/s); live store {:.0} MiB, history {:.0} MiB \
             ({:.0} B a message); get p50 {:.3} ms, p99 {:.3} ms, max {:.2} ms",
            thousands(done.count as f64),
            thousands((done.count - from) as f64),
            fill_s,
            thousands((done.count - from) as f64 / fill_s.max(0.001)),
            live as f64 / MIB,
            history as f64 / MIB,
            history as f64 / done.count.max(1) as f64,
            quantile(&times, 0.5),
            quantile(&times, 0.99),
            quantile(&times, 1.0),
        );
        let name = format!("F history ({} finished)", thousands(done.count as f64));
        let row = |what: &str, unit| Row::new(format!("{name}: {what}"), unit);
        let mut get_p99 = row("Store::get of a random finished message, p99", "ms");
        get_p99.samples.push(quantile(&times, 0.99));
        let mut first = row("spawn → first submit_sm at smpp-sim", "s");
        let mut rss_first = row("RSS at the first submit_sm", "MiB");
        let mut rss_after = row("RSS after 100,000 submit_sm", "MiB");
        let mut peak = row("peak RSS (VmHWM) by then", "MiB");
        for run in 0..args.runs {
            let f = cold_start::start(sim, dir, &config, run).await?;
            println!(
                "  start {}: first submit_sm after {:.2} s; RSS {:.1} MiB then, {:.1} MiB after \
                 {}, peak {:.1} MiB",
                run + 1,
                f.first_submit_s,
                f.rss_first_mib,
                f.rss_after_mib,
                thousands(cold_start::SUBMITS as f64),
                f.rss_peak_mib,
            );
            first.samples.push(f.first_submit_s);
            rss_first.samples.push(f.rss_first_mib);
            rss_after.samples.push(f.rss_after_mib);
            peak.samples.push(f.rss_peak_mib);
        }
        rows.extend([first, rss_first, rss_after, peak, get_p99]);
    }
    Ok(())
}
