//! Scenario D (`--only cold-start`): the daemon started over a store that already holds
//! millions of queued messages.
//!
//! The store is filled with khabar's `Store` API directly (as `benches/store.rs` does: 4
//! writers, batches of 1,000, each answered after its fsync) in a temporary directory laid out
//! as a daemon's data dir: scenario B's texts, nine in ten `bulk` and one in ten
//! `notification`, spread over the three operators. Then the real `khabar` binary is started
//! as a child process over it (`khabar --config … run`, its log in the temporary directory),
//! against smpp-sim in this process, and the bench measures the time from spawning it to its
//! socket answering and to the first submit_sm at the simulator, and the child's VmRSS
//! (`/proc/PID/status`) at the first submit_sm and after [`SUBMITS`] of them (a sustained
//! drain), and its peak (VmHWM).
//!
//! The operating system's page cache still holds the files just written (dropping it needs
//! root), so this is a cold process over a warm disk cache. With `--runs` above 1 the same
//! store is started again; each run sends about [`SUBMITS`] of its messages.

use crate::harness::{self, Shape};
use crate::traffic;
use khabar::message::{Extra, Kind, NewMessage};
use khabar::store::disk::free_bytes;
use khabar::store::{Store, StoreConfig};
use smpp_sim::SimHandle;
use std::path::{Path, PathBuf};
use std::process::Stdio;
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

fn dir_bytes(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_bytes(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

/// `VmRSS` and `VmHWM` of process `pid`, MiB.
fn rss_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kib| kib * 1024.0 / MIB)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Queued message `n`.
fn message(n: u64) -> NewMessage {
    NewMessage {
        reference: Some(format!("cold-{n}")),
        kind: if n.is_multiple_of(10) {
            Kind::Notification
        } else {
            Kind::Bulk
        },
        recipient: traffic::recipient(n),
        sender: None,
        text: traffic::text(n),
        send_by: None,
        receipt_by: None,
        extra: Extra::default(),
    }
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
        disk_mib: dir_bytes(&store_dir) as f64 / MIB,
        dir,
        config,
        queued,
        fill_s,
    })
}

fn submits(sim: &SimHandle) -> u64 {
    sim.stats().iter().map(|s| s.submits).sum()
}

/// The last lines of the child's log, for an error message.
fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// Starts the `khabar` binary over `filled` and measures it; stops it with SIGTERM.
pub async fn start(sim: &SimHandle, filled: &Filled, run: usize) -> Result<Figures, String> {
    let log_path = filled.dir.path().join(format!("khabar-{run}.log"));
    let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
    let stderr = log.try_clone().map_err(|e| e.to_string())?;
    let socket = filled.dir.path().join("khabar.sock");
    let before = submits(sim);
    let started = Instant::now();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_khabar"))
        .arg("--config")
        .arg(&filled.config)
        .arg("run")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start khabar: {e}"))?;
    let pid = child.id().ok_or("khabar exited at once")?;
    let measured = watch_start(sim, &mut child, pid, &socket, before, started).await;
    stop(&mut child, pid).await;
    measured.map_err(|e| format!("{e}; the daemon's log ends:\n{}", log_tail(&log_path)))
}

async fn watch_start(
    sim: &SimHandle,
    child: &mut tokio::process::Child,
    pid: u32,
    socket: &Path,
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
            figures.rss_first_mib = rss_mib(pid).0;
        }
        if sent >= SUBMITS {
            figures.submits_s = elapsed;
            (figures.rss_after_mib, figures.rss_peak_mib) = rss_mib(pid);
            return Ok(figures);
        }
        if !ready && tokio::net::UnixStream::connect(socket).await.is_ok() {
            ready = true;
            figures.ready_s = started.elapsed().as_secs_f64();
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("khabar exited ({status}) after {sent} submit_sm"));
        }
        if started.elapsed() > PATIENCE {
            return Err(format!("only {sent} submit_sm within {PATIENCE:?}"));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// SIGTERM, then SIGKILL if it has not stopped within a minute.
async fn stop(child: &mut tokio::process::Child, pid: u32) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill(2) on our own child's pid, which is not reaped before this returns.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
    let stopped = tokio::time::timeout(Duration::from_secs(60), child.wait()).await;
    if !matches!(stopped, Ok(Ok(_))) {
        eprintln!("  khabar did not stop within 60 s of SIGTERM; killing it");
        let _ = child.kill().await;
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
        let f = match start(&sim, &filled, run).await {
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
