//! The data directory's disk fills up or goes read-only under the real `khabar` binary,
//! talking to a real smpp-sim:
//!
//! - below `[store] min_free_disk_mib`, new messages are refused with a clear answer while
//!   the ones already accepted are still sent and receipted; accepts resume by themselves
//!   once space returns;
//! - when the disk is really full (no reserve), every submit is answered (the disk error,
//!   never a hang, never "accepted" for what is not on disk), the daemon exits with status
//!   75 for its supervisor, and after a restart every accepted message is there and reaches
//!   a final state at the simulator;
//! - a read-only disk stops the daemon at start with a clear error, and nothing is damaged.
//!
//! These need a small file system of their own: a tmpfs the test mounts (root, or a
//! container allowed to mount). Where mounting is not possible, each says it was skipped
//! and `reserve_on_the_real_file_system` tests the reserve on the real file system instead
//! (crossing a reserve set below the current free space with ballast files).
//! Every test prints which variant ran (`cargo test --test daemon_disk -- --nocapture`).

mod daemon_support;
#[path = "daemon_disk/daemon.rs"]
mod disk_daemon;
#[path = "daemon_faults/helpers.rs"]
mod fault_helpers;
#[path = "daemon_disk/fs.rs"]
mod fs;

use daemon_support::{Tuning, write_tuned_config};
use disk_daemon::*;
use fault_helpers::{all_binds_up, delivered_once, wait_all_final, wait_for_status};
use fs::{Ballast, Tmpfs, free_mib};
use khabar::api::ErrorCode;
use khabar::api::protocol::MessageRef;
use khabar::message::State;
use khabar::store::EXIT_STORE_FAILED;
use std::path::{Path, PathBuf};

/// The tmpfs the tests put the data directory on.
const TMPFS_MIB: u64 = 64;

/// A test's directory: the config, the socket and the daemon's log live here, the data
/// directory (`data/`, where the tmpfs goes) below it.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        Setup {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("khabar.sock")
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("khabar.log")
    }

    /// Writes the config for `sim` with the given reserve and returns its path.
    fn config(&self, sim: &smpp_sim::SimHandle, min_free_disk_mib: u64) -> PathBuf {
        let tuning = Tuning {
            extra: format!("[store]\nmin_free_disk_mib = {min_free_disk_mib}\n"),
            ..Tuning::default()
        };
        write_tuned_config(self.dir.path(), sim, &tuning)
    }

    async fn start(&self, config: &Path) -> DaemonProcess {
        let daemon = DaemonProcess::start(config, &self.socket(), &self.log()).await;
        let mut client = daemon.client().await;
        wait_for_status(&mut client, "every bind up", all_binds_up).await;
        daemon
    }

    /// A tmpfs over the data directory, or None (after saying so) where mounting fails.
    fn tmpfs(&self, test: &str) -> Option<Tmpfs> {
        match Tmpfs::mount(&self.data(), TMPFS_MIB) {
            Some(mount) => {
                eprintln!(
                    "{test}: variant tmpfs ({TMPFS_MIB} MiB) at {}",
                    self.data().display()
                );
                Some(mount)
            }
            None => {
                eprintln!(
                    "{test}: SKIPPED, this machine does not let the test mount a tmpfs \
                     (reserve_on_the_real_file_system covers the reserve instead)"
                );
                None
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn below_the_reserve_new_messages_are_refused_while_accepted_ones_are_delivered() {
    let setup = Setup::new();
    let Some(_mount) = setup.tmpfs("reserve") else {
        return;
    };
    let sim = patient_simulator().await;
    let daemon = setup.start(&setup.config(&sim, 16)).await;
    let mut client = daemon.client().await;
    let before = submit_all(&mut client, 1, 0..300).await;
    let disk = status(&mut client)
        .await
        .disk
        .expect("status shows the disk");
    assert!(!disk.refusing, "{disk:?}");
    assert_eq!(disk.min_free_bytes, 16 << 20);

    let ballast = Ballast::leaving(&setup.data(), 8);
    let refused = probe_until(
        &mut client,
        1,
        10_000,
        "refused for the full disk",
        is_disk_full,
    )
    .await;
    let Outcome::Refused(_, why) = refused else {
        unreachable!()
    };
    assert!(
        why.contains("min_free_disk_mib") && why.contains("NOT accepted"),
        "{why}"
    );
    assert!(why.contains(&setup.data().display().to_string()), "{why}");
    let disk = status(&mut client)
        .await
        .disk
        .expect("status shows the disk");
    assert!(
        disk.refusing && disk.free_bytes.is_some_and(|f| f < 16 << 20),
        "{disk:?}"
    );

    // A whole batch is refused and none of it stored; a retry of an accepted message still
    // gets its id.
    let batch = submit_range(&mut client, 1, 2000..2050).await.unwrap();
    assert!(batch.iter().all(is_disk_full), "{batch:?}");
    let unknown = client
        .get(&MessageRef::Reference(reference(1, 2000)))
        .await
        .unwrap();
    assert_eq!(unknown.unwrap_err().code, ErrorCode::UnknownMessage);
    let again = submit_range(&mut client, 1, 0..1).await.unwrap();
    assert!(
        matches!(again[..], [Outcome::Accepted(id)] if id == before[0].0),
        "{again:?}"
    );

    // What was accepted before is still sent and receipted (small writes, inside the reserve).
    delivered_once(&mut client, &sim, &before).await;

    ballast.remove();
    probe_until(
        &mut client,
        1,
        20_000,
        "accepted once space returned",
        |o| matches!(o, Outcome::Accepted(_)),
    )
    .await;
    wait_for_status(&mut client, "accepting again", |s| {
        s.disk.as_ref().is_some_and(|d| !d.refusing)
    })
    .await;
    let after = submit_all(&mut client, 1, 3000..3100).await;
    delivered_once(&mut client, &sim, &after).await;

    // One line per change of state, not one per refused message.
    let log = daemon.log();
    assert_eq!(
        log.matches("below [store] min_free_disk_mib").count(),
        1,
        "{log}"
    );
    assert_eq!(log.matches("back above the reserve").count(), 1, "{log}");
    assert!(daemon.stop().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_disk_is_answered_the_daemon_exits_and_a_restart_loses_nothing() {
    let setup = Setup::new();
    let Some(_mount) = setup.tmpfs("full disk") else {
        return;
    };
    let sim = patient_simulator().await;
    // no reserve: sled itself meets ENOSPC
    let config = setup.config(&sim, 0);
    let mut daemon = setup.start(&config).await;
    let mut client = daemon.client().await;
    let early = submit_all(&mut client, 2, 0..300).await;
    delivered_once(&mut client, &sim, &early).await;

    let ballast = Ballast::leaving(&setup.data(), 4);
    let mut accepted = early.clone();
    let mut refusal = None;
    // bounded: at most 20,000 more messages; the disk fills long before
    for round in 0..400 {
        let range = 300 + round * 50..300 + (round + 1) * 50;
        let Some(outcomes) = submit_range(&mut client, 2, range.clone()).await else {
            break; // the daemon exited before answering this batch
        };
        for (n, outcome) in range.zip(outcomes) {
            match outcome {
                Outcome::Accepted(id) => accepted.push((id, number(2, n))),
                Outcome::Refused(code, why) => {
                    assert_eq!(code, ErrorCode::Unavailable, "{why}");
                    refusal.get_or_insert(why);
                }
            }
        }
        if refusal.is_some() {
            break;
        }
    }
    let why = refusal.expect("a submit was answered with the disk error");
    assert!(
        why.contains("No space left on device") && why.contains("NOT accepted"),
        "{why}"
    );
    // After sled's I/O error the store cannot be trusted until reopened: the daemon exits.
    let exit = daemon.exited().await;
    assert_eq!(exit.code(), Some(EXIT_STORE_FAILED), "{}", daemon.log());
    assert!(
        daemon.log().contains("the store failed"),
        "{}",
        daemon.log()
    );
    eprintln!(
        "full disk: {} messages accepted, then: {why}",
        accepted.len()
    );

    ballast.remove();
    let daemon = setup.start(&config).await;
    let mut client = daemon.client().await;
    assert_all_known(&mut client, &accepted).await;
    let views = wait_all_final(&mut client, accepted.iter().map(|(id, _)| *id)).await;
    let received = fault_helpers::received_by_destination(&sim);
    for (id, to) in &accepted {
        assert_eq!(views[id].state, State::Delivered, "{:?}", views[id]);
        assert!(
            received.contains_key(to),
            "message {id} never reached the simulator"
        );
    }
    let after = submit_all(&mut client, 2, 50_000..50_100).await;
    delivered_once(&mut client, &sim, &after).await;
    assert!(daemon.stop().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_read_only_disk_stops_the_start_with_a_clear_error_and_damages_nothing() {
    let setup = Setup::new();
    let Some(mount) = setup.tmpfs("read-only") else {
        return;
    };
    let sim = patient_simulator().await;
    let config = setup.config(&sim, 8);
    let daemon = setup.start(&config).await;
    let mut client = daemon.client().await;
    let sent = submit_all(&mut client, 3, 0..200).await;
    assert!(daemon.stop().await.success());

    // Linux refuses a read-only remount while the store is open for writing, so the disk
    // goes read-only between two runs.
    mount.remount(true);
    let mut refused = DaemonProcess::spawn(&config, &setup.socket(), &setup.log());
    let exit = refused.exited().await;
    assert!(!exit.success(), "the daemon started on a read-only disk");
    let log = refused.log();
    assert!(log.contains("Read-only file system"), "{log}");
    assert!(log.contains(&setup.data().display().to_string()), "{log}");

    mount.remount(false);
    let daemon = setup.start(&config).await;
    let mut client = daemon.client().await;
    assert_all_known(&mut client, &sent).await;
    delivered_once(&mut client, &sim, &sent).await;
    let after = submit_all(&mut client, 3, 1000..1100).await;
    delivered_once(&mut client, &sim, &after).await;
    assert!(daemon.stop().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reserve_on_the_real_file_system() {
    let probe = tempfile::tempdir().unwrap();
    let forced = std::env::var_os("KHABAR_DISK_TEST_REAL_FS").is_some();
    if !forced && Tmpfs::mount(&probe.path().join("m"), 1).is_some() {
        eprintln!(
            "real file system: SKIPPED, tmpfs mounts work here so the tmpfs tests cover the \
             reserve (KHABAR_DISK_TEST_REAL_FS=1 runs this one too)"
        );
        return;
    }
    let setup = Setup {
        dir: tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap(),
    };
    std::fs::create_dir_all(setup.data()).unwrap();
    let free = free_mib(&setup.data());
    if free < 1200 {
        eprintln!("real file system: SKIPPED, only {free} MiB free (the test needs 1.2 GiB)");
        return;
    }
    // A wide margin on either side of the reserve, so that other processes writing to or
    // freeing the same disk during the test do not decide it.
    let margin = (free / 4).min(1024);
    let reserve = free - margin;
    eprintln!(
        "real file system: variant ballast at {} ({free} MiB free, reserve {reserve} MiB, \
         ballast of about {} MiB)",
        setup.data().display(),
        2 * margin
    );
    let sim = patient_simulator().await;
    let daemon = setup.start(&setup.config(&sim, reserve)).await;
    let mut client = daemon.client().await;
    let before = submit_all(&mut client, 4, 0..100).await;

    let ballast = Ballast::until_below(&setup.data(), reserve - margin / 2, margin / 2, 8 * margin);
    probe_until(
        &mut client,
        4,
        10_000,
        "refused for the full disk",
        is_disk_full,
    )
    .await;
    assert!(status(&mut client).await.disk.is_some_and(|d| d.refusing));
    delivered_once(&mut client, &sim, &before).await;

    ballast.remove();
    probe_until(
        &mut client,
        4,
        20_000,
        "accepted once space returned",
        |o| matches!(o, Outcome::Accepted(_)),
    )
    .await;
    let after = submit_all(&mut client, 4, 2000..2100).await;
    delivered_once(&mut client, &sim, &after).await;
    assert!(daemon.stop().await.success());
}
