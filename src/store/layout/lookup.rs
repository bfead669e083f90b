//! Reading one message record from the engine through the layout: under its own key, or in
//! the intake chunk that covers its id.

use super::codec::{self, IntakeChunk};
use super::keys;
use crate::message::{Message, MessageId};
use crate::store::engine::Db;
use crate::store::error::StoreError;

/// Loads a record wherever it lives (its own key, or the intake chunk covering its id).
pub fn load(db: &Db, id: MessageId) -> Result<Option<Message>, StoreError> {
    // A chunk is moved to own keys in one atomic batch. If both reads miss, that may have
    // happened between them, so look once more.
    for _ in 0..2 {
        if let Some(bytes) = db.get(keys::record(id))? {
            return codec::decode_record(&bytes).map(Some);
        }
        let chunk = db
            .range(keys::INTAKE.to_vec()..=keys::intake(id))
            .next_back()
            .transpose()?;
        if let Some((_, bytes)) = chunk
            && let Some(record) = IntakeChunk::find(&bytes, id)
        {
            return codec::decode_record(record).map(Some);
        }
    }
    Ok(None)
}
