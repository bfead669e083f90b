//! Opening sled without trusting it blindly after a crash. sled 0.34 can fail to recover a
//! log whose tail was lost (power loss, or a file system that went read-only mid-write):
//! it may panic ("tried to serialize Uninitialized", sled issue #1387) or come up empty as
//! if the store were new. The first becomes a clear error; the second is caught by a marker
//! file written (and fsynced) once the store has its format version on disk, so a store that
//! was in use never silently restarts empty.

use crate::store::config::StoreConfig;
use crate::store::engine::Db;
use crate::store::error::StoreError;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

/// The marker file in the store directory: its presence means "this store held data".
const MARKER: &str = "khabar-store";

/// How long opening waits for a database file lock that is still held.
const LOCK_WAIT: Duration = Duration::from_secs(10);
/// Pause between tries while it waits.
const LOCK_RETRY_EVERY: Duration = Duration::from_millis(20);

/// Opens the database `sled_config` describes, waiting out a lock left by a just-closed handle.
///
/// sled 0.34 releases its file lock only once the background work of a dropped handle is
/// done (sled issues #1234, #1289), so reopening right after a close (a restart inside one
/// process, as the tests do) can find it still held; that is retried for up to `LOCK_WAIT` (10 s).
/// A lock still held after that belongs to another process, and the error says so.
pub fn open_waiting_for_lock(sled_config: &sled::Config, path: &Path) -> sled::Result<sled::Db> {
    open_waiting_up_to(LOCK_WAIT, sled_config, path)
}

/// [`open_waiting_for_lock`] with the wait given (tests shorten it).
fn open_waiting_up_to(
    wait: Duration,
    sled_config: &sled::Config,
    path: &Path,
) -> sled::Result<sled::Db> {
    let started = Instant::now();
    loop {
        match sled_config.open() {
            // sled reports the lock as a plain `Other` I/O error; its text is the only sign.
            Err(sled::Error::Io(e)) if e.to_string().contains("could not acquire lock") => {
                if started.elapsed() >= wait {
                    return Err(sled::Error::Io(std::io::Error::other(format!(
                        "{} is locked by another process (is another khabar running on the \
                         same data_dir?): {e}",
                        path.display()
                    ))));
                }
                std::thread::sleep(LOCK_RETRY_EVERY);
            }
            other => return other,
        }
    }
}

/// Opens (or creates) the sled database of `config`.
pub fn database(config: &StoreConfig) -> Result<Db, StoreError> {
    let path = &config.path;
    let sled_config = sled::Config::new()
        .path(path)
        .cache_capacity(config.cache_mib.saturating_mul(1 << 20))
        .flush_every_ms(None);
    let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        open_waiting_for_lock(&sled_config, path)
    }));
    match opened {
        Ok(Ok(db)) => Ok(Db(db)),
        Ok(Err(e)) => {
            Err(StoreError::from(e).in_context(format_args!("cannot open {}", path.display())))
        }
        Err(_) => Err(StoreError::Corrupt(format!(
            "sled could not recover the log in {} (it panicked): its tail was damaged, as \
             after a power loss or a file system error; restore the directory from a backup \
             or move it aside to start empty",
            path.display()
        ))),
    }
}

/// Refuses a store that held data (its marker is there) but that sled opened empty.
pub fn check_not_wiped(dir: &Path, db: &Db) -> Result<(), StoreError> {
    if !dir.join(MARKER).exists() || db.first()?.is_some() {
        return Ok(());
    }
    Err(StoreError::Corrupt(format!(
        "{} held a khabar store (its {MARKER} file is there) but sled recovered nothing from \
         its log: refusing to start on what looks like a wiped store; restore the directory \
         from a backup, or move it aside to start empty",
        dir.display()
    )))
}

/// Writes the marker once the store's format version is on disk (sled's own flush does not
/// make a new file durable, so its log is fsynced first). A marker that cannot be written
/// (a full disk) is logged and tried again at the next start: it is a safety net only.
pub fn mark_in_use(dir: &Path) {
    let marker = dir.join(MARKER);
    if marker.exists() {
        return;
    }
    let written = File::open(dir.join("db"))
        .and_then(|log| log.sync_data())
        .and_then(|()| File::create(&marker))
        .and_then(|mut file| {
            file.write_all(b"khabar store: sled recovering this directory empty is an error\n")?;
            file.sync_all()
        })
        .and_then(|()| File::open(dir))
        .and_then(|dir| dir.sync_all());
    if let Err(e) = written {
        tracing::warn!(path = %marker.display(), error = %e, "cannot write the store's marker file");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marked_store_that_opens_empty_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let config = StoreConfig::at(dir.path().join("store"));
        let db = database(&config).unwrap();
        check_not_wiped(&config.path, &db).expect("a new store is fine");
        db.insert(b"k", b"v").unwrap();
        db.flush().unwrap();
        mark_in_use(&config.path);
        assert!(config.path.join(MARKER).exists());
        check_not_wiped(&config.path, &db).expect("a store with data is fine");
        db.0.remove(b"k").unwrap();
        assert!(matches!(
            check_not_wiped(&config.path, &db),
            Err(StoreError::Corrupt(_))
        ));
    }

    /// A new database in a temporary directory, open (so locked): what reopening it needs.
    fn opened() -> (
        tempfile::TempDir,
        std::path::PathBuf,
        sled::Config,
        sled::Db,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let config = sled::Config::new().path(&path).flush_every_ms(None);
        let db = config.open().unwrap();
        (dir, path, config, db)
    }

    #[test]
    fn a_lock_released_moments_later_is_waited_out() {
        let (_dir, path, config, first) = opened();
        first.insert(b"k", b"v".to_vec()).unwrap();
        first.flush().unwrap();
        // the lock is held by the first handle when the second open starts
        let closing = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            drop(first);
        });
        let second = open_waiting_for_lock(&config, &path).expect("opens once the lock is free");
        closing.join().unwrap();
        assert_eq!(second.get(b"k").unwrap().as_deref(), Some(&b"v"[..]));
    }

    #[test]
    fn a_lock_held_throughout_is_a_clear_error() {
        let (_dir, path, config, _held) = opened();
        let error = open_waiting_up_to(Duration::from_millis(100), &config, &path)
            .expect_err("the lock is never released");
        let text = error.to_string();
        assert!(text.contains("locked by another process"), "{text}");
        assert!(text.contains(&path.display().to_string()), "{text}");
    }
}
