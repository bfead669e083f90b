//! Which parts the ESME has been told were accepted, to count parts it sends again anyway
//! (`resubmitted_after_ok`).
//!
//! A part is known by a fingerprint of its operator, addresses, payload octets and
//! concatenation information. The writer marks a fingerprint once the part's submit_sm_resp
//! ESME_ROK has been flushed to the socket while the peer still had its side open.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashSet, VecDeque};
use std::hash::{Hash, Hasher};

use crate::submit::Submission;

/// The fingerprint of one part as `operator` received it.
pub(crate) fn fingerprint(operator: &str, sub: &Submission) -> u64 {
    let mut h = DefaultHasher::new();
    operator.hash(&mut h);
    sub.destination.hash(&mut h);
    sub.source.hash(&mut h);
    sub.payload.as_ref().hash(&mut h);
    sub.concat
        .map(|c| (c.reference, c.total, c.seq))
        .hash(&mut h);
    h.finish()
}

/// Fingerprints of parts answered ESME_ROK, at most `cap` (the oldest forgotten first).
#[derive(Debug)]
pub(crate) struct Told {
    set: HashSet<u64>,
    order: VecDeque<u64>,
    cap: usize,
}

impl Told {
    pub fn new(cap: usize) -> Self {
        Self {
            set: HashSet::new(),
            order: VecDeque::new(),
            cap: cap.max(1),
        }
    }

    /// Remembers that the ESME was told `print` was accepted.
    pub fn insert(&mut self, print: u64) {
        if !self.set.insert(print) {
            return;
        }
        self.order.push_back(print);
        while self.order.len() > self.cap {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
    }

    /// Whether the ESME was told `print` was accepted.
    pub fn contains(&self, print: u64) -> bool {
        self.set.contains(&print)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forgets_the_oldest_beyond_its_cap() {
        let mut told = Told::new(2);
        told.insert(1);
        told.insert(2);
        told.insert(2);
        assert!(told.contains(1) && told.contains(2));
        told.insert(3);
        assert!(!told.contains(1));
        assert!(told.contains(2) && told.contains(3));
    }
}
