//! The fsync sled 0.34 leaves out. Its `flush()` writes the log with `sync_file_range` on
//! Linux, which neither records the file's new size and blocks in the file system's journal
//! nor flushes the drive's write cache: a log that grew since the last journal commit loses
//! its tail on power loss or when the file system goes read-only, although every write was
//! "flushed" (seen on ext4 forced read-only: the messages acknowledged in its last seconds
//! were gone after the remount). So after each group's flush the flusher also `fdatasync`s
//! sled's log file, through a descriptor of its own (fsync acts on the file, whichever
//! descriptor asks). The OTP and requests databases (`crate::side_db`) use it too.

use crate::store::error::StoreError;
use std::fs::File;
use std::path::Path;

/// sled's log file inside the store directory.
const SLED_LOG: &str = "db";
/// sled's config file (written once, when the store is created).
const SLED_CONFIG: &str = "conf";

/// Makes what sled flushed durable; a no-op when the log file cannot be opened.
pub struct LogSync {
    file: Option<File>,
}

impl LogSync {
    /// Opens sled's log in `store_dir` (read-only: only to fsync it). Also fsyncs, once,
    /// what sled created without an fsync: its config file and the directory entries, so a
    /// new store survives a crash right after its first accept.
    pub fn open(store_dir: &Path) -> Self {
        let entries = [
            store_dir.join(SLED_CONFIG),
            store_dir.to_path_buf(),
            store_dir.parent().unwrap_or(store_dir).to_path_buf(),
        ];
        for path in entries {
            if let Err(e) = File::open(&path).and_then(|f| f.sync_all()) {
                tracing::warn!(path = %path.display(), error = %e, "cannot fsync a file of a sled database");
            }
        }
        let path = store_dir.join(SLED_LOG);
        let file = match File::open(&path) {
            Ok(file) => Some(file),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot open sled's log to fsync it: writes rely on sled's flush alone");
                None
            }
        };
        LogSync { file }
    }

    /// `fdatasync`s the log: its data, new size and blocks are on stable storage after it.
    pub fn sync(&self) -> Result<(), StoreError> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        file.sync_data()
            .map_err(|e| StoreError::from(sled::Error::Io(e)).in_context("cannot fsync sled's log"))
    }
}
