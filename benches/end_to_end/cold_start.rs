//! Scenario D (`--only cold-start`): the daemon started over a store that already holds
//! millions of queued messages.
//!
//! The store is filled with khabar's `Store` API directly (as `benches/store.rs` does: 4
//! writers, batches of 1,000, each answered after its fsync) in a temporary directory laid out
//! as a daemon's data dir: scenario B's texts, nine in ten `bulk` and one in ten
//! `notification`, spread over the three operators. Then the real `khabar` binary is started
//! as a child process over it (`harness::Process`, its log in the temporary directory),
//! against smpp-sim in this process, and the bench measures the time from spawning it to its
//! socket answering and to the first submit_sm at the simulator, and the child's VmRSS
//! (`/proc/PID/status`) at the first submit_sm and after [`SUBMITS`] of them (a sustained
//! drain), and its peak (VmHWM).
//!
//! The operating system's page cache still holds the files just written (dropping it needs
//! root), so this is a cold process over a warm disk cache. With `--runs` above 1 the same
//! store is started again; each run sends about [`SUBMITS`] of its messages.

use crate::harness::{self, Process, Shape};
use crate::traffic;
use khabar::message::{Kind, NewMessage};
use khabar::store::disk::free_bytes;
use khabar::store::{Store, StoreConfig};
use smpp_sim::SimHandle;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::time::Instant;

/// submit_sm PDUs after which the second RSS reading is taken.
pub const SUBMITS: u64 = 100_000;
/// Disk a queued message takes, with room to spare (benches/store.rs measured ~1,180 bytes).
const BYTES_PER_MESSAGE: u64 = 1_400;
/// Free space kept beyond the store itself (the daemon's own reserve is 256 MiB).
const HEADROOM: u64 = 1 << 30;
/// The longest a start may take before the bench gives up.
const PATIENCE: Duration = Duration::from_secs(600);
/// How often the child and the simulator are looked at.
const POLL: Duration = Duration::from_millis(2);
const MIB: f64 = (1 << 20) as f64;

/// A store filled for the runs.
pub struct Filled {
    dir: tempfile::TempDir,
    config: PathBuf,
    /// Messages queued.
    pub queued: u64,
    /// Filling, seconds.
    pub fill_s: f64,
    /// The store's size on disk, MiB.
    pub disk_mib: f64,
}

/// What one start measured.
#[derive(Clone, Copy, Debug, Default)]
pub struct Figures {
    /// Spawn → the socket accepts a connection, seconds.
    pub ready_s: f64,
    /// Spawn → the first submit_sm at smpp-sim, seconds.
    pub first_submit_s: f64,
    /// Spawn → [`SUBMITS`] submit_sm at smpp-sim, seconds.
    pub submits_s: f64,
    /// The child's VmRSS at the first submit_sm, MiB.
    pub rss_first_mib: f64,
    /// … after [`SUBMITS`] submit_sm, MiB.
    pub rss_after_mib: f64,
    /// Its peak RSS (VmHWM) by then, MiB.
    pub rss_peak_mib: f64,
}

/// Queued message `n`.
fn message(n: u64) -> NewMessage {
    let kind = if n.is_multiple_of(10) {
        Kind::Notification
    } else {
        Kind::Bulk
    };
    traffic::new_message(n, kind, Some(format!("cold-{n}")))
}

/// Checks the disk, then fills a store for a daemon of `sim` with `queued` messages.
pub async fn fill(sim: &SimHandle, shape: Shape, queued: u64) -> Result<Filled, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let need = queued * BYTES_PER_MESSAGE + HEADROOM;
    let free = free_bytes(dir.path()).map_err(|e| e.to_string())?;
    if free < need {
        return Err(format!(
            "cold start with {queued} queued messages needs about {:.1} GiB free in {} \
             (the temporary directory; set TMPDIR elsewhere or use --quick), but only {:.1} GiB \
             is free",
            need as f64 / MIB / 1024.0,
            dir.path().display(),
            free as f64 / MIB / 1024.0,
        ));
    }
    let config = harness::write_config(dir.path(), sim, shape)?;
    let store_dir = dir.path().join("data").join("store");
    let store = Store::open(&StoreConfig::at(&store_dir)).map_err(|e| e.to_string())?;
    let started = Instant::now();
    let writers = 4;
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..writers {
        let store = store.clone();
        tasks.spawn(async move {
            let mut n = w * 1_000;
            while n < queued {
                let batch = (n..(n + 1_000).min(queued)).map(message).collect();
                for answer in store.accept_batch(batch).await {
                    answer.map_err(|e| e.to_string())?;
                }
                n += writers * 1_000;
            }
            Ok::<_, String>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.map_err(|e| e.to_string())??;
    }
    let fill_s = started.elapsed().as_secs_f64();
    let total = store.counts().total();
    store.flush().await.map_err(|e| e.to_string())?;
    // Dropping the last handle joins the store's writer thread and releases sled's lock.
    tokio::task::spawn_blocking(move || drop(store))
        .await
        .map_err(|e| e.to_string())?;
    if total != queued {
        return Err(format!("{total} of {queued} messages in the store"));
    }
    Ok(Filled {
        disk_mib: harness::disk_bytes(&store_dir) as f64 / MIB,
        dir,
        config,
        queued,
        fill_s,
    })
}

fn submits(sim: &SimHandle) -> u64 {
    sim.stats().iter().map(|s| s.submits).sum()
}

/// Starts the `khabar` binary with `config` (its data dir and socket in `dir`) and measures
/// it; stops it with SIGTERM.
pub async fn start(
    sim: &SimHandle,
    dir: &Path,
    config: &Path,
    run: usize,
) -> Result<Figures, String> {
    let log = dir.join(format!("khabar-{run}.log"));
    let socket = dir.join("khabar.sock");
    let before = submits(sim);
    let started = Instant::now();
    let mut process = Process::spawn(config, &socket, &log)?;
    let measured = watch_start(sim, &mut process, before, started).await;
    if let Err(e) = process.terminate(harness::STOP_PATIENCE).await {
        eprintln!("  khabar {e}");
    }
    measured.map_err(|e| format!("{e}; the daemon's log ends:\n{}", process.log_tail(20)))
}

async fn watch_start(
    sim: &SimHandle,
    process: &mut Process,
    before: u64,
    started: Instant,
) -> Result<Figures, String> {
    let mut figures = Figures::default();
    let (mut ready, mut first) = (false, false);
    loop {
        let sent = submits(sim) - before;
        let elapsed = started.elapsed().as_secs_f64();
        if !first && sent > 0 {
            first = true;
            figures.first_submit_s = elapsed;
            figures.rss_first_mib = process.rss_mib().0;
        }
        if sent >= SUBMITS {
            figures.submits_s = elapsed;
            (figures.rss_after_mib, figures.rss_peak_mib) = process.rss_mib();
            return Ok(figures);
        }
        if !ready
            && tokio::net::UnixStream::connect(&process.socket)
                .await
                .is_ok()
        {
            ready = true;
            figures.ready_s = started.elapsed().as_secs_f64();
        }
        if !process.running() {
            return Err(format!("khabar exited after {sent} submit_sm"));
        }
        if started.elapsed() > PATIENCE {
            return Err(format!("only {sent} submit_sm within {PATIENCE:?}"));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Runs scenario D: one fill, `args.runs` starts; adds its rows to the table.
pub async fn scenario(args: &crate::Args, rows: &mut Vec<crate::Row>) -> Result<(), String> {
    use crate::{Row, thousands};
    let sim = harness::simulator().await?;
    let filled = fill(&sim, crate::e2e_shape(3), args.cold_queued).await;
    let filled = match filled {
        Ok(filled) => filled,
        Err(e) => {
            sim.shutdown().await;
            return Err(e);
        }
    };
    println!(
        "  filled {} messages in {:.1} s ({}/s), store {} MiB on disk",
        thousands(filled.queued as f64),
        filled.fill_s,
        thousands(filled.queued as f64 / filled.fill_s),
        thousands(filled.disk_mib),
    );
    let name = format!("D cold start ({} queued)", thousands(filled.queued as f64));
    let row = |what: &str, unit| Row::new(format!("{name}: {what}"), unit);
    // The first start replays sled's log written since its last snapshot (the fill); a
    // restart after the daemon's clean stop finds a fresh snapshot. Both are shown.
    let mut ready = [
        row("spawn → socket answers, first start after the fill", "s"),
        row("spawn → socket answers, restart after a clean stop", "s"),
    ];
    let mut first = [
        row("spawn → first submit_sm at smpp-sim, first start", "s"),
        row("spawn → first submit_sm at smpp-sim, restart", "s"),
    ];
    let mut drained = row("spawn → 100,000 submit_sm", "s");
    let mut rss_first = row("RSS at the first submit_sm", "MiB");
    let mut rss_after = row("RSS after 100,000 submit_sm", "MiB");
    let mut peak = row("peak RSS (VmHWM) by then", "MiB");
    let mut outcome = Ok(());
    for run in 0..args.runs {
        let f = match start(&sim, filled.dir.path(), &filled.config, run).await {
            Ok(f) => f,
            Err(e) => {
                outcome = Err(e);
                break;
            }
        };
        println!(
            "  run {}: socket after {:.2} s, first submit_sm after {:.2} s, {SUBMITS} after {:.2} s; \
             RSS {:.1} MiB then, {:.1} MiB after {SUBMITS}, peak {:.1} MiB",
            run + 1,
            f.ready_s,
            f.first_submit_s,
            f.submits_s,
            f.rss_first_mib,
            f.rss_after_mib,
            f.rss_peak_mib,
        );
        let again = usize::from(run > 0);
        ready[again].samples.push(f.ready_s);
        first[again].samples.push(f.first_submit_s);
        drained.samples.push(f.submits_s);
        rss_first.samples.push(f.rss_first_mib);
        rss_after.samples.push(f.rss_after_mib);
        peak.samples.push(f.rss_peak_mib);
    }
    sim.shutdown().await;
    let [ready_first, ready_again] = ready;
    let [first_first, first_again] = first;
    rows.extend([ready_first, first_first, ready_again, first_again]);
    rows.extend([drained, rss_first, rss_after, peak]);
    // The temporary directory (the store) is removed here.
    drop(filled);
    outcome
}
