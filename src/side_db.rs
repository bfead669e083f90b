//! Small sled databases beside the message store (OTP sessions, request windows): opening
//! one while waiting out a lock left by a just-closed handle, checking its format marker, and
//! flushing it durably (sled's flush plus the fsync it leaves out, as the store does).

use crate::store::engine::log_sync::LogSync;
use crate::store::open_waiting_for_lock;
use std::path::Path;

/// Opens (or creates) the database at `path` and checks (or writes, flushed) the format byte
/// under `format_key`; `what` names it in errors ("OTP", "requests"). Returns it with the
/// [`LogSync`] that [`flush`] needs. A lock still held is waited out
/// ([`open_waiting_for_lock`]).
pub fn open(
    path: &Path,
    format_key: &str,
    format: u8,
    what: &str,
) -> Result<(sled::Db, LogSync), String> {
    let config = sled::Config::new().path(path).flush_every_ms(None);
    let db = open_waiting_for_lock(&config, path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
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
