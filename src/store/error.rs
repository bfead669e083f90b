//! What can go wrong in the store.

use crate::message::{MessageId, State};

/// A store failure. Cloneable so that one storage failure can answer every caller of a group.
#[derive(Clone, Debug, thiserror::Error)]
pub enum StoreError {
    /// sled or the file system failed; the operation did not happen (or is not durable).
    #[error("storage failure: {0}")]
    Storage(String),
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
    /// [`Failure`](super::writer::Failure)): nothing was written.
    #[error("the store stopped writing after a storage failure ({0}) and must be reopened")]
    Failed(String),
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        match e {
            sled::Error::Io(io) => StoreError::Storage(format!("I/O error: {}", io_sentence(&io))),
            other => StoreError::Storage(other.to_string()),
        }
    }
}

/// An I/O error in words: sled wraps some OS errors in a debug-printed string, so the two an
/// operator most needs to recognise are named from their kind.
fn io_sentence(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::StorageFull => "No space left on device".to_owned(),
        std::io::ErrorKind::ReadOnlyFilesystem => "Read-only file system".to_owned(),
        _ => e.to_string(),
    }
}
