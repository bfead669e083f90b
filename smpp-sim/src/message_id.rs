//! Operator message ids, unique across simulator restarts.
//!
//! Format: 11 lowercase hex digits of the simulator's start time in Unix milliseconds, then 8
//! hex digits of a counter shared by all its operators (19 characters, e.g.
//! `19a8f3c2b1d0000002a`). A restart gets a later start time, so ids never repeat.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Hands out message ids.
#[derive(Debug)]
pub struct MessageIds {
    prefix: String,
    next: AtomicU64,
}

/// Serial number of simulators started in this process, so two started in the same
/// millisecond still get different prefixes.
static STARTS: AtomicU64 = AtomicU64::new(0);

impl MessageIds {
    /// A generator whose prefix is now (in Unix milliseconds).
    pub fn new() -> Self {
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let start = millis + STARTS.fetch_add(1, Ordering::Relaxed);
        Self {
            prefix: format!("{:011x}", start & 0xFFF_FFFF_FFFF),
            next: AtomicU64::new(1),
        }
    }

    /// The next id and its counter value.
    pub fn next(&self) -> (String, u64) {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        (format!("{}{:08x}", self.prefix, n & 0xFFFF_FFFF), n)
    }

    /// The counter inside an id this generator issued, or `None` for a foreign id.
    pub fn counter_of(&self, id: &str) -> Option<u64> {
        let rest = id.strip_prefix(self.prefix.as_str())?;
        if rest.len() != 8 {
            return None;
        }
        u64::from_str_radix(rest, 16).ok()
    }
}

impl Default for MessageIds {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_parse_back() {
        let ids = MessageIds::new();
        let (a, na) = ids.next();
        let (b, nb) = ids.next();
        assert_ne!(a, b);
        assert_eq!(a.len(), 19);
        assert_eq!(ids.counter_of(&a), Some(na));
        assert_eq!(ids.counter_of(&b), Some(nb));
        assert_eq!(ids.counter_of("nonsense"), None);
    }

    #[test]
    fn a_restart_gets_another_prefix() {
        let first = MessageIds::new().next().0;
        let second = MessageIds::new().next().0;
        assert_ne!(first, second);
    }
}
