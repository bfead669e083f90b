//! Received messages: decoded, reassembled from their parts, bounded, and waitable.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::text::{self, Coding};
use crate::udh::Concat;

/// Concatenated messages still missing parts are forgotten beyond this many.
const MAX_PARTIAL: usize = 100_000;

/// A message as the subscriber would see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceivedMessage {
    /// The operator it was submitted to.
    pub operator: String,
    /// source_addr of the submit_sm.
    pub source: String,
    /// destination_addr of the submit_sm.
    pub destination: String,
    /// The decoded text, all parts joined.
    pub text: String,
    /// data_coding of the (first) part.
    pub data_coding: u8,
    /// How many parts it came in.
    pub parts: u8,
    /// Operator message ids, one per part in part order.
    pub message_ids: Vec<String>,
    /// The concatenation reference (UDH or sar_msg_ref_num), for multi-part messages.
    pub concat_reference: Option<u16>,
    /// An identical message (destination, text, reference) had already been received.
    pub duplicate: bool,
    /// When the last part arrived.
    pub received_at: SystemTime,
}

/// One accepted submit_sm, as the store needs it.
#[derive(Debug)]
pub(crate) struct Part {
    pub operator: Arc<str>,
    pub source: String,
    pub destination: String,
    pub data_coding: u8,
    pub coding: Coding,
    pub payload: Bytes,
    pub concat: Option<Concat>,
    pub message_id: String,
}

/// What recording a part led to.
#[derive(Debug, Default)]
pub(crate) struct Recorded {
    /// The part completed a message.
    pub completed: bool,
    /// The message, or this part, repeats one already seen.
    pub duplicate: bool,
    /// The complete text, when asked for and completed.
    pub text: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct PartialKey {
    operator: Arc<str>,
    source: String,
    destination: String,
    reference: u16,
    total: u8,
}

#[derive(Debug)]
struct Partial {
    parts: Vec<Option<(Bytes, String)>>,
    received: usize,
    data_coding: u8,
    coding: Coding,
    first_seen: Instant,
}

#[derive(Debug, Default)]
struct Inner {
    messages: VecDeque<(ReceivedMessage, u64)>,
    partial: HashMap<PartialKey, Partial>,
    seen: HashMap<u64, u32>,
}

/// All operators' received messages, newest last, at most `cap` of them.
#[derive(Debug)]
pub(crate) struct MessageStore {
    inner: Mutex<Inner>,
    cap: usize,
    held: watch::Sender<usize>,
}

fn fingerprint(m: &ReceivedMessage) -> u64 {
    let mut h = DefaultHasher::new();
    (&m.operator, &m.destination, &m.text, m.concat_reference).hash(&mut h);
    h.finish()
}

impl MessageStore {
    pub fn new(cap: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            cap,
            held: watch::channel(0).0,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records an accepted part; completes the message when it was the last one missing.
    pub fn record(&self, part: Part, want_text: bool) -> Recorded {
        let mut inner = self.lock();
        let Some(concat) = part.concat.filter(|c| c.total > 1) else {
            let text = text::decode(part.coding, &part.payload);
            let message = ReceivedMessage {
                operator: part.operator.to_string(),
                source: part.source,
                destination: part.destination,
                text,
                data_coding: part.data_coding,
                parts: 1,
                message_ids: vec![part.message_id],
                concat_reference: None,
                duplicate: false,
                received_at: SystemTime::now(),
            };
            return self.complete(&mut inner, message, want_text);
        };
        let key = PartialKey {
            operator: part.operator.clone(),
            source: part.source.clone(),
            destination: part.destination.clone(),
            reference: concat.reference,
            total: concat.total,
        };
        if !inner.partial.contains_key(&key) && inner.partial.len() >= MAX_PARTIAL {
            let oldest = inner
                .partial
                .iter()
                .min_by_key(|(_, p)| p.first_seen)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                inner.partial.remove(&oldest);
            }
        }
        let entry = inner.partial.entry(key.clone()).or_insert_with(|| Partial {
            parts: vec![None; usize::from(concat.total)],
            received: 0,
            data_coding: part.data_coding,
            coding: part.coding,
            first_seen: Instant::now(),
        });
        let slot = &mut entry.parts[usize::from(concat.seq - 1)];
        let repeated = slot.is_some();
        if !repeated {
            entry.received += 1;
        }
        *slot = Some((part.payload, part.message_id));
        if entry.received < entry.parts.len() {
            return Recorded {
                duplicate: repeated,
                ..Recorded::default()
            };
        }
        let Some(done) = inner.partial.remove(&key) else {
            return Recorded::default();
        };
        let mut bytes = Vec::new();
        let mut ids = Vec::with_capacity(done.parts.len());
        for (payload, id) in done.parts.into_iter().flatten() {
            bytes.extend_from_slice(&payload);
            ids.push(id);
        }
        let message = ReceivedMessage {
            operator: part.operator.to_string(),
            source: part.source,
            destination: part.destination,
            text: text::decode(done.coding, &bytes),
            data_coding: done.data_coding,
            parts: concat.total,
            message_ids: ids,
            concat_reference: Some(concat.reference),
            duplicate: false,
            received_at: SystemTime::now(),
        };
        let mut recorded = self.complete(&mut inner, message, want_text);
        recorded.duplicate |= repeated;
        recorded
    }

    fn complete(
        &self,
        inner: &mut Inner,
        mut message: ReceivedMessage,
        want_text: bool,
    ) -> Recorded {
        let print = fingerprint(&message);
        let seen = inner.seen.entry(print).or_insert(0);
        message.duplicate = *seen > 0;
        *seen += 1;
        let recorded = Recorded {
            completed: true,
            duplicate: message.duplicate,
            text: want_text.then(|| message.text.clone()),
        };
        inner.messages.push_back((message, print));
        while inner.messages.len() > self.cap {
            if let Some((_, old)) = inner.messages.pop_front()
                && let Some(count) = inner.seen.get_mut(&old)
            {
                *count -= 1;
                if *count == 0 {
                    inner.seen.remove(&old);
                }
            }
        }
        self.held.send_replace(inner.messages.len());
        recorded
    }

    /// Every held message, oldest first.
    pub fn messages(&self) -> Vec<ReceivedMessage> {
        self.lock()
            .messages
            .iter()
            .map(|(m, _)| m.clone())
            .collect()
    }

    /// The newest `n` messages, oldest first.
    pub fn last(&self, n: usize) -> Vec<ReceivedMessage> {
        let inner = self.lock();
        let skip = inner.messages.len().saturating_sub(n);
        inner
            .messages
            .iter()
            .skip(skip)
            .map(|(m, _)| m.clone())
            .collect()
    }

    /// Forgets every message and incomplete concatenation.
    pub fn clear(&self) {
        let mut inner = self.lock();
        *inner = Inner::default();
        self.held.send_replace(0);
    }

    /// How many messages are held now, as a watch channel.
    pub fn held(&self) -> watch::Receiver<usize> {
        self.held.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(text: &str, concat: Option<Concat>, id: &str) -> Part {
        Part {
            operator: Arc::from("kcell"),
            source: "egov".into(),
            destination: "77011234567".into(),
            data_coding: 0,
            coding: Coding::Ascii,
            payload: Bytes::copy_from_slice(text.as_bytes()),
            concat,
            message_id: id.into(),
        }
    }

    fn concat(seq: u8) -> Option<Concat> {
        Some(Concat {
            reference: 7,
            total: 3,
            seq,
        })
    }

    #[test]
    fn reassembles_parts_in_any_order() {
        let store = MessageStore::new(10);
        assert!(!store.record(part("c", concat(3), "id3"), false).completed);
        assert!(!store.record(part("a", concat(1), "id1"), false).completed);
        let done = store.record(part("b", concat(2), "id2"), true);
        assert!(done.completed && !done.duplicate);
        assert_eq!(done.text.as_deref(), Some("abc"));
        let m = &store.messages()[0];
        assert_eq!(m.message_ids, ["id1", "id2", "id3"]);
        assert_eq!((m.parts, m.concat_reference), (3, Some(7)));
    }

    #[test]
    fn counts_duplicates_and_respects_the_cap() {
        let store = MessageStore::new(2);
        store.record(part("x", None, "1"), false);
        assert!(store.record(part("x", None, "2"), false).duplicate);
        store.record(part("y", None, "3"), false);
        store.record(part("z", None, "4"), false);
        let texts: Vec<_> = store.messages().into_iter().map(|m| m.text).collect();
        assert_eq!(texts, ["y", "z"]);
        // Both "x" were evicted, so another "x" is not a duplicate any more.
        assert!(!store.record(part("x", None, "5"), false).duplicate);
        assert_eq!(*store.held().borrow(), 2);
        store.clear();
        assert!(store.messages().is_empty());
    }
}
