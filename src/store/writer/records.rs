//! Decoded records of messages in flight, as the writer last saved them: a message's submit
//! result and its receipts follow its claim within moments, and each would otherwise read the
//! record back from the engine and decode it (a large share of the writer's time in profiles).
//! The writer changes every record itself, so the copy here can only go stale through a
//! write that does not go through [`super::tx::Tx`], and there is none.

use crate::message::{Message, MessageId, State};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// Most records kept (~10 MB); past it new ones are simply not kept.
const MOST_KEPT: usize = 16_384;

/// The writer's copies of in-flight records (shared with its transactions, all on the
/// writer thread).
#[derive(Clone, Default)]
pub struct RecordCache(Arc<Mutex<HashMap<MessageId, Message>>>);

impl RecordCache {
    /// True for the states worth keeping: a submit result or a receipt is coming.
    pub fn keeps(state: State) -> bool {
        matches!(state, State::Submitting | State::Submitted)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<MessageId, Message>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A copy of the record as last saved, if kept.
    pub fn get(&self, id: MessageId) -> Option<Message> {
        self.lock().get(&id).cloned()
    }

    /// Adopts an operation's record changes: `Some` saved in a kept state, `None` changed
    /// otherwise (no longer kept).
    pub fn adopt(&self, changes: HashMap<MessageId, Option<Message>>) {
        let mut kept = self.lock();
        for (id, change) in changes {
            match change {
                Some(message) if kept.len() < MOST_KEPT || kept.contains_key(&id) => {
                    kept.insert(id, message);
                }
                _ => {
                    kept.remove(&id);
                }
            }
        }
    }
}
