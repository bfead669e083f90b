//! The free-space reserve (`[store] min_free_disk_mib`). Below it, new messages are refused
//! with [`StoreError::DiskFull`] before anything is written, while messages already accepted
//! go on being sent, receipted and changed: those are small writes, and the reserve is the
//! room kept for them. When space returns, accepts resume by themselves.
//!
//! Free space is read with statvfs at most every [`RECHECK`] (accepts only look at the last
//! reading), and the refusing state is logged once per change, never per request. To keep
//! the log from flapping, accepts resume only once free space is a little above the reserve
//! (1/16 of it, at most 16 MiB).

use crate::store::error::StoreError;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How old a free-space reading may be before an accept reads it again.
pub const RECHECK: Duration = Duration::from_millis(100);

const MIB: u64 = 1 << 20;
/// The most free space above the reserve needed before accepts resume.
const MAX_HYSTERESIS: u64 = 16 * MIB;

/// The free space of the store's file system, as `khabar status` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiskSpace {
    /// The store's directory.
    pub dir: PathBuf,
    /// Bytes free for the daemon (None: the file system could not be asked).
    pub free_bytes: Option<u64>,
    /// The reserve in bytes (0: no reserve).
    pub min_free_bytes: u64,
    /// True while new messages are refused for lack of space.
    pub refusing: bool,
}

/// Checks the reserve for accepts; shared by every clone of a [`Store`].
pub struct DiskGuard {
    dir: PathBuf,
    min_free: u64,
    resume_at: u64,
    last: Mutex<Reading>,
}

#[derive(Clone, Copy, Default)]
struct Reading {
    at: Option<Instant>,
    free: Option<u64>,
    refusing: bool,
}

impl DiskGuard {
    /// A guard for the file system holding `dir`, keeping `min_free_mib` MiB free (0: off).
    /// Reads the free space once.
    pub fn new(dir: &Path, min_free_mib: u64) -> Self {
        let min_free = min_free_mib.saturating_mul(MIB);
        let guard = DiskGuard {
            dir: dir.to_path_buf(),
            min_free,
            resume_at: min_free.saturating_add((min_free / 16).min(MAX_HYSTERESIS)),
            last: Mutex::new(Reading::default()),
        };
        // a disk already below the reserve is logged at start, not at the first accept
        let _ = guard.admit();
        guard
    }

    /// Ok when a new message may be stored; [`StoreError::DiskFull`] below the reserve.
    pub fn admit(&self) -> Result<(), StoreError> {
        if self.min_free == 0 {
            return Ok(());
        }
        let reading = self.read();
        if !reading.refusing {
            return Ok(());
        }
        Err(StoreError::DiskFull {
            dir: self.dir.display().to_string(),
            free_mib: reading.free.unwrap_or(0) / MIB,
            min_free_mib: self.min_free / MIB,
        })
    }

    /// The current free space and whether accepts are refused.
    pub fn space(&self) -> DiskSpace {
        let reading = self.read();
        DiskSpace {
            dir: self.dir.clone(),
            free_bytes: reading.free,
            min_free_bytes: self.min_free,
            refusing: reading.refusing,
        }
    }

    /// The last reading, refreshed when older than [`RECHECK`]; logs changes of state.
    fn read(&self) -> Reading {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if last.at.is_some_and(|at| at.elapsed() < RECHECK) {
            return *last;
        }
        let was = *last;
        last.at = Some(Instant::now());
        match free_bytes(&self.dir) {
            Ok(free) => {
                last.free = Some(free);
                let limit = if was.refusing {
                    self.resume_at
                } else {
                    self.min_free
                };
                last.refusing = free < limit;
            }
            Err(e) => {
                if was.at.is_none() || was.free.is_some() {
                    tracing::warn!(dir = %self.dir.display(), error = %e, "cannot read the free space of the store's disk; the reserve is not enforced");
                }
                last.free = None;
                last.refusing = false;
            }
        }
        if last.refusing != was.refusing {
            self.log_change(*last);
        }
        *last
    }

    fn log_change(&self, now: Reading) {
        let free_mib = now.free.unwrap_or(0) / MIB;
        let min_free_mib = self.min_free / MIB;
        if now.refusing {
            tracing::warn!(
                dir = %self.dir.display(),
                free_mib,
                min_free_mib,
                "free disk space is below [store] min_free_disk_mib: new messages are refused \
                 until space is freed; accepted messages go on being sent"
            );
        } else {
            tracing::info!(
                dir = %self.dir.display(),
                free_mib,
                min_free_mib,
                "free disk space is back above the reserve: accepting new messages again"
            );
        }
    }
}

/// Bytes available to an unprivileged writer on `dir`'s file system. Written over libc's
/// statvfs (already a dependency) because it is the one call needed.
pub fn free_bytes(dir: &Path) -> std::io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: `path` is NUL-terminated and outlives the call; `stat` is a writable statvfs.
    let rc = unsafe { libc::statvfs(path.as_ptr(), stat.as_mut_ptr()) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: statvfs returned 0, so it filled `stat` (which was zeroed besides).
    let stat = unsafe { stat.assume_init() };
    #[allow(clippy::useless_conversion)] // the field types are narrower on 32-bit targets
    Ok(u64::from(stat.f_bavail).saturating_mul(u64::from(stat.f_frsize)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_space_is_read_from_the_file_system() {
        let dir = tempfile::tempdir().unwrap();
        let free = free_bytes(dir.path()).expect("statvfs works on a temp dir");
        assert!(free > 0);
        assert!(free_bytes(&dir.path().join("missing")).is_err());
    }

    #[test]
    fn a_reserve_larger_than_the_disk_refuses_and_none_admits() {
        let dir = tempfile::tempdir().unwrap();
        let free_mib = free_bytes(dir.path()).unwrap() / MIB;
        let huge = DiskGuard::new(dir.path(), free_mib + 1024 * 1024);
        match huge.admit() {
            Err(StoreError::DiskFull { min_free_mib, .. }) => {
                assert_eq!(min_free_mib, free_mib + 1024 * 1024)
            }
            other => panic!("expected DiskFull, got {other:?}"),
        }
        assert!(huge.space().refusing);
        let off = DiskGuard::new(dir.path(), 0);
        assert!(off.admit().is_ok());
        assert!(!off.space().refusing);
        assert!(off.space().free_bytes.is_some());
    }

    #[test]
    fn an_unreadable_directory_does_not_refuse() {
        let dir = tempfile::tempdir().unwrap();
        let guard = DiskGuard::new(&dir.path().join("missing"), u64::MAX / MIB);
        assert!(guard.admit().is_ok());
        assert_eq!(guard.space().free_bytes, None);
    }
}
