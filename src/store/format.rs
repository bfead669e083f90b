//! The store's format version: checked (or written, for a new store) at open, with the
//! writer's bookkeeping read back.

use crate::store::engine::Db;
use crate::store::error::StoreError;
use crate::store::layout::{codec, keys};
use crate::store::writer::state::WriterState;

/// The store format this release writes (and the newest it reads). Format 2 writes message
/// records without field names ([`codec::RECORD_VERSION`]); format 3 moves finished messages
/// to the history tier ([`super::history`]). An older store is opened as is (its records are still
/// read, its finished messages move over in the background) and marked format 3, so an older
/// release, which would not look in the history, refuses it cleanly.
pub const FORMAT_VERSION: u32 = 3;

/// The oldest store format this release opens.
const OLDEST_FORMAT_READ: u32 = 1;

/// Checks (or writes, for a new store) the format version; returns the writer's bookkeeping.
pub fn check(db: &Db) -> Result<WriterState, StoreError> {
    match db.get(keys::FORMAT_VERSION)? {
        Some(v) => {
            let found = <[u8; 4]>::try_from(v.as_ref())
                .map(u32::from_be_bytes)
                .unwrap_or(u32::MAX);
            if !(OLDEST_FORMAT_READ..=FORMAT_VERSION).contains(&found) {
                return Err(StoreError::UnsupportedFormat {
                    found,
                    supported: FORMAT_VERSION,
                });
            }
            if found < FORMAT_VERSION {
                // nothing to convert: records written from now on are of the new format
                db.insert(keys::FORMAT_VERSION, FORMAT_VERSION.to_be_bytes())?;
                db.flush()?;
            }
            match db.get(keys::WRITER_STATE)? {
                Some(bytes) => codec::decode(codec::STATE_VERSION, &bytes, "writer state"),
                None => Ok(WriterState::default()),
            }
        }
        None if db.first()?.is_none() => {
            db.insert(keys::FORMAT_VERSION, FORMAT_VERSION.to_be_bytes())?;
            db.flush()?;
            Ok(WriterState::default())
        }
        None => Err(StoreError::Corrupt(
            "this directory holds a database that is not a khabar store".into(),
        )),
    }
}
