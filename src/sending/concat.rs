//! Concatenation references: the parts of one long SMS carry the same reference, and a
//! handset joins parts by sender and reference, so two long messages to one recipient in
//! flight at once must carry different ones.
//!
//! Each recipient's number picks one of [`SLOTS`] counters (by hash); every message sent to it
//! afresh takes the counter's next value (a short one leaves its reference unused: taking it
//! costs less than splitting the text twice). A recipient's messages therefore get successive
//! references, and another message can repeat one only after 256 (`udh8`) or 65,536 (`udh16`,
//! `sar`) messages to the same slot in between. Counters start at random values (a fixed
//! start would repeat, after a restart, the references of messages still in flight). Fixed
//! memory, no per-recipient state to expire.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU16, Ordering};

/// How many counters recipients share.
pub const SLOTS: usize = 1 << 16;

/// The counters.
pub struct ConcatRefs {
    slots: Box<[AtomicU16]>,
    hasher: std::collections::hash_map::RandomState,
}

impl Default for ConcatRefs {
    fn default() -> Self {
        let slots = (0..SLOTS)
            .map(|_| AtomicU16::new(rand::random()))
            .collect::<Vec<_>>()
            .into_boxed_slice();
        ConcatRefs {
            slots,
            hasher: Default::default(),
        }
    }
}

impl ConcatRefs {
    /// The reference for the next message to `recipient`.
    pub fn next(&self, recipient: &str) -> u16 {
        let mut hasher = self.hasher.build_hasher();
        hasher.write(recipient.as_bytes());
        let slot = hasher.finish() as usize % SLOTS;
        self.slots[slot].fetch_add(1, Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recipients_messages_get_different_references_even_in_the_low_byte() {
        let refs = ConcatRefs::default();
        let taken: Vec<u8> = (0..256).map(|_| refs.next("77011234567") as u8).collect();
        let distinct: std::collections::HashSet<_> = taken.iter().collect();
        assert_eq!(distinct.len(), 256);
    }
}
