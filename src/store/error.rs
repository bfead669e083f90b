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
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        StoreError::Storage(e.to_string())
    }
}
