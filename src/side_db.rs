//! Small sled databases beside the message store (OTP sessions, request windows): opening
//! one while waiting out a lock left by a just-closed handle, checking its format marker, and
//! flushing it durably (sled's flush plus the fsync it leaves out, as the store does).

use crate::store::log_sync::LogSync;
use std::path::Path;
use std::time::{Duration, Instant};

/// How long to keep trying when the database file is still locked.
const LOCK_WAIT: Duration = Duration::from_secs(10);
/// Pause between tries.
const LOCK_RETRY_EVERY: Duration = Duration::from_millis(20);

/// Opens (or creates) the database at `path` and checks (or writes, flushed) the format byte
/// under `format_key`; `what` names it in errors ("OTP", "requests"). Returns it with the
/// [`LogSync`] that [`flush`] needs.
///
/// sled releases its file lock only once its background work for a dropped handle is done, so
/// reopening right after a close (a restart inside one process) can find the lock still held;
/// that is retried for up to [`LOCK_WAIT`]. Another process holding the lock fails after that.
pub fn open(
    path: &Path,
    format_key: &str,
    format: u8,
    what: &str,
) -> Result<(sled::Db, LogSync), String> {
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
    let log = LogSync::open(path);
    let failed = |e: sled::Error| format!("{}: {e}", path.display());
    match db.get(format_key).map_err(failed)? {
        None => {
            db.insert(format_key, &[format]).map_err(failed)?;
            flush(&db, &log).map_err(|e| format!("{}: {e}", path.display()))?;
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
    Ok((db, log))
}

/// Makes everything written to `db` so far durable: sled's flush, then an fsync of its log.
pub fn flush(db: &sled::Db, log: &LogSync) -> Result<(), String> {
    db.flush().map_err(|e| e.to_string())?;
    log.sync().map_err(|e| e.to_string())
}
