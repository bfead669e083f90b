//! What can go wrong in the store.

use crate::message::{MessageId, State};
use std::sync::Arc;

/// A store failure. Cloneable so that one storage failure can answer every caller of a group.
#[derive(Clone, Debug, thiserror::Error)]
pub enum StoreError {
    /// The storage engine (the live store's or the history's) or the file system failed; the operation did not
    /// happen (or is not durable). Returned by every call that writes or reads the disk.
    #[error("storage failure: {what}")]
    Storage {
        /// What failed, in words that include the cause ("cannot open …: I/O error: …").
        what: String,
        /// The engine's or the file system's own error.
        #[source]
        cause: Cause,
    },
    /// Stored bytes could not be read back.
    #[error("corrupt store data: {0}")]
    Corrupt(String),
    /// The store on disk was written by a release this one cannot read.
    #[error("store format version {found} is not supported (this release reads up to {supported})")]
    UnsupportedFormat {
        /// The version found on disk.
        found: u32,
        /// The newest version this release understands.
        supported: u32,
    },
    /// The cluster's database was migrated by a newer khabar than this one (cluster mode):
    /// nothing was changed.
    #[error(
        "the database's schema is version {found}, newer than this khabar's {supported}: \
         run the newer khabar on this node too (every node of a cluster runs the same release)"
    )]
    SchemaTooNew {
        /// The version found in the database.
        found: u32,
        /// The newest version this release writes.
        supported: u32,
    },
    /// The cluster's database lacks this khabar's schema (cluster mode): `khabar migrate`, or
    /// a start with migrations allowed, brings it up to date.
    #[error(
        "the database's schema is version {found}, older than this khabar's {supported}: \
         run `khabar migrate` first"
    )]
    SchemaTooOld {
        /// The version found in the database (0: none of khabar's tables).
        found: u32,
        /// The version this release writes.
        supported: u32,
    },
    /// No message with this id.
    #[error("no message {0}")]
    NotFound(MessageId),
    /// The operation does not apply to a message in its current state.
    #[error("message {id} is {state}, but this needs it {wanted}")]
    WrongState {
        /// The message.
        id: MessageId,
        /// Its current state.
        state: State,
        /// The state(s) the operation needs, in words.
        wanted: &'static str,
    },
    /// The request itself is wrong (e.g. a part index beyond the message's parts).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The store has been shut down.
    #[error("the store is closed")]
    Closed,
    /// Free space on the store's file system is below `[store] min_free_disk_mib`: new
    /// messages are refused (nothing was stored); changes to accepted messages go on.
    #[error(
        "the disk is full: free space on {dir} is {free_mib} MiB, below the reserve of \
         {min_free_mib} MiB ([store] min_free_disk_mib)"
    )]
    DiskFull {
        /// The store's directory.
        dir: String,
        /// Free space left, in MiB.
        free_mib: u64,
        /// The configured reserve, in MiB.
        min_free_mib: u64,
    },
    /// An earlier storage failure left the store unusable until it is reopened (see
    /// [`Failure`](super::writer::failure::Failure)): nothing was written.
    #[error("the store stopped writing after a storage failure ({0}) and must be reopened")]
    Failed(String),
}

/// The cause of a storage failure, shared so that [`StoreError`] stays `Clone` (one failure
/// answers every operation waiting on the same flush). Its own `source` is the engine's error.
#[derive(Clone, Debug)]
pub struct Cause(Arc<dyn std::error::Error + Send + Sync>);

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Cause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

impl StoreError {
    /// A storage failure: `what` failed because of `cause` (whose words `what` should carry).
    pub fn storage(
        what: impl Into<String>,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        StoreError::Storage {
            what: what.into(),
            cause: Cause(Arc::new(cause)),
        }
    }

    /// The same failure with `context` in front of what failed ("cannot open …: …").
    pub fn in_context(self, context: impl std::fmt::Display) -> Self {
        match self {
            StoreError::Storage { what, cause } => StoreError::Storage {
                what: format!("{context}: {what}"),
                cause,
            },
            other => other,
        }
    }
}

/// An I/O error in words: the engine wraps some OS errors in a debug-printed string, so the two an
/// operator most needs to recognise are named from their kind.
pub(super) fn io_sentence(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::StorageFull => "No space left on device".to_owned(),
        std::io::ErrorKind::ReadOnlyFilesystem => "Read-only file system".to_owned(),
        _ => e.to_string(),
    }
}
