//! Opening the OTP sled database: waiting out a lock left by a just-closed handle, and checking
//! the on-disk format.

use super::OtpError;
use std::path::Path;
use std::time::{Duration, Instant};

/// Key (in the default tree) of the on-disk format version.
const FORMAT_KEY: &str = "otp_format";
/// The on-disk format this build writes.
const FORMAT: u8 = 1;
/// How long to keep trying when the database file is still locked.
const LOCK_WAIT: Duration = Duration::from_secs(10);
/// Pause between tries.
const LOCK_RETRY_EVERY: Duration = Duration::from_millis(20);

/// Opens (or creates) the database at `path` and checks (or writes) its format marker.
///
/// sled releases its file lock only once its background work for a dropped handle is done, so
/// reopening right after a close (a restart inside one process) can find the lock still held;
/// that is retried for up to [`LOCK_WAIT`]. Another process holding the lock fails after that.
pub(crate) fn open(path: &Path) -> Result<sled::Db, OtpError> {
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
                return Err(OtpError::Storage(format!(
                    "cannot open {}: {e}",
                    path.display()
                )));
            }
        }
    };
    let failed = |e: sled::Error| OtpError::Storage(format!("{}: {e}", path.display()));
    match db.get(FORMAT_KEY).map_err(failed)? {
        None => {
            db.insert(FORMAT_KEY, &[FORMAT]).map_err(failed)?;
        }
        Some(v) if v.as_ref() == [FORMAT] => {}
        Some(v) => {
            return Err(OtpError::Storage(format!(
                "{} has OTP format {:?}; this build reads format {FORMAT}",
                path.display(),
                v.as_ref()
            )));
        }
    }
    Ok(db)
}
