//! Opening the requests sled database: waiting out a lock left by a just-closed handle, and
//! checking the on-disk format.

use super::RequestError;
use std::path::Path;
use std::time::{Duration, Instant};

/// Key (in the default tree) of the on-disk format version.
const FORMAT_KEY: &str = "requests_format";
/// The on-disk format this build writes.
const FORMAT: u8 = 1;
/// How long to keep trying when the database file is still locked.
const LOCK_WAIT: Duration = Duration::from_secs(10);
/// Pause between tries.
const LOCK_RETRY_EVERY: Duration = Duration::from_millis(20);

/// Opens (or creates) the database at `path` and checks (or writes) its format marker.
///
/// sled releases its file lock only once its background work for a dropped handle is done, so
/// reopening right after a close (a daemon restart inside one process) can find the lock still
/// held; that is retried for up to [`LOCK_WAIT`]. Another process holding the lock fails after.
pub(super) fn open(path: &Path) -> Result<sled::Db, RequestError> {
    let started = Instant::now();
    let db = loop {
        match sled::Config::new().path(path).flush_every_ms(None).open() {
            Ok(db) => break db,
            // sled reports the lock as a plain `Other` I/O error; its text is the only sign.
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock")
                    && started.elapsed() < LOCK_WAIT =>
            {
                std::thread::sleep(LOCK_RETRY_EVERY);
            }
            Err(e) => {
                return Err(RequestError::Storage(format!(
                    "cannot open {}: {e}",
                    path.display()
                )));
            }
        }
    };
    let failed = |e: sled::Error| RequestError::Storage(format!("{}: {e}", path.display()));
    match db.get(FORMAT_KEY).map_err(failed)? {
        None => {
            db.insert(FORMAT_KEY, &[FORMAT]).map_err(failed)?;
            db.flush().map_err(failed)?;
        }
        Some(v) if v.as_ref() == [FORMAT] => {}
        Some(v) => {
            return Err(RequestError::Storage(format!(
                "{} has requests format {:?}; this build reads format {FORMAT}",
                path.display(),
                v.as_ref()
            )));
        }
    }
    Ok(db)
}
