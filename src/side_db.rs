//! Small sled databases beside the message store (OTP sessions, request windows): opening
//! one while waiting out a lock left by a just-closed handle, and checking its format marker.

use std::path::Path;
use std::time::{Duration, Instant};

/// How long to keep trying when the database file is still locked.
const LOCK_WAIT: Duration = Duration::from_secs(10);
/// Pause between tries.
const LOCK_RETRY_EVERY: Duration = Duration::from_millis(20);

/// Opens (or creates) the database at `path` and checks (or writes, flushed) the format byte
/// under `format_key`; `what` names it in errors ("OTP", "requests").
///
/// sled releases its file lock only once its background work for a dropped handle is done, so
/// reopening right after a close (a restart inside one process) can find the lock still held;
/// that is retried for up to [`LOCK_WAIT`]. Another process holding the lock fails after that.
pub fn open(path: &Path, format_key: &str, format: u8, what: &str) -> Result<sled::Db, String> {
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
            Err(e) => return Err(format!("cannot open {}: {e}", path.display())),
        }
    };
    let failed = |e: sled::Error| format!("{}: {e}", path.display());
    match db.get(format_key).map_err(failed)? {
        None => {
            db.insert(format_key, &[format]).map_err(failed)?;
            db.flush().map_err(failed)?;
        }
        Some(v) if v.as_ref() == [format] => {}
        Some(v) => {
            return Err(format!(
                "{} has {what} format {:?}; this build reads format {format}",
                path.display(),
                v.as_ref()
            ));
        }
    }
    Ok(db)
}
