//! The writer's layered view of the store: an operation's own changes over the changes staged
//! by earlier operations of the same group, over what the engine holds. A group is applied to
//! the engine as one batch, because the engine's cost per batch dwarfs its cost per key (see
//! [`crate::store::engine`]).

use super::state::WriterState;
use crate::store::engine::{Batch, Db};
use crate::store::error::StoreError;
use crate::store::layout::codec;
use crate::store::layout::event_run;
use crate::store::layout::keys;
use std::collections::BTreeMap;
use std::iter::Peekable;
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard};

/// A stored key and its value.
pub type Entry = (Vec<u8>, Vec<u8>);

/// Changed keys: `None` removes the key.
pub type Overlay = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// The bounds of a key range.
pub type KeyRange = (Bound<Vec<u8>>, Bound<Vec<u8>>);

/// The key range of everything under `prefix`.
pub fn prefix_range(prefix: &[u8]) -> KeyRange {
    (
        Bound::Included(prefix.to_vec()),
        Bound::Excluded(keys::prefix_end(prefix)),
    )
}

/// The changes of a group's finished operations.
#[derive(Default)]
pub struct Group {
    /// Changed keys.
    pub writes: Overlay,
    /// New events, encoded, in seq order (stored as one run when the group is applied).
    pub events: Vec<(u64, Vec<u8>)>,
}

/// Changes of finished operations not yet applied to the engine (shared by the writer and its
/// transactions, all on the writer thread).
#[derive(Clone, Default)]
pub struct Staged(Arc<Mutex<Group>>);

impl Staged {
    /// The staged changes.
    pub fn lock(&self) -> MutexGuard<'_, Group> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How many keys and events are staged.
    pub fn len(&self) -> usize {
        let group = self.lock();
        group.writes.len() + group.events.len()
    }

    /// Adds an operation's changes (later changes of a key replace earlier ones) and events.
    pub fn add(&self, writes: Overlay, events: Vec<(u64, Vec<u8>)>) {
        let mut group = self.lock();
        // key by key: `append` would merge-rebuild the whole staged map on every operation
        group.writes.extend(writes);
        group.events.extend(events);
    }

    /// Applies everything staged and the writer's bookkeeping as one atomic batch.
    pub fn apply(&self, db: &Db, state: &WriterState) -> Result<(), StoreError> {
        let group = std::mem::take(&mut *self.lock());
        let mut batch = Batch::default();
        for (k, v) in group.writes {
            match v {
                Some(v) => batch.insert(k, v),
                None => batch.remove(k),
            }
        }
        if let Some((first, _)) = group.events.first() {
            let events: Vec<(u64, &[u8])> = group
                .events
                .iter()
                .map(|(seq, bytes)| (*seq, bytes.as_slice()))
                .collect();
            batch.insert(keys::event(*first), event_run::pack(&events));
        }
        let state_bytes = codec::encode(codec::STATE_VERSION, state)?;
        batch.insert(keys::WRITER_STATE, state_bytes);
        db.apply(batch)
    }
}

type Item<'a> = Box<dyn Iterator<Item = Result<(Vec<u8>, Option<Vec<u8>>), StoreError>> + 'a>;

fn overlay_items<'a>(overlay: &'a Overlay, range: &KeyRange, rev: bool) -> Item<'a> {
    let bounds = (bound_ref(&range.0), bound_ref(&range.1));
    let iter = overlay
        .range::<[u8], _>(bounds)
        .map(|(k, v)| Ok((k.clone(), v.clone())));
    if rev {
        Box::new(iter.rev())
    } else {
        Box::new(iter)
    }
}

fn bound_ref(bound: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match bound {
        Bound::Included(k) => Bound::Included(k.as_slice()),
        Bound::Excluded(k) => Bound::Excluded(k.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

fn db_items(db: &Db, range: &KeyRange, rev: bool) -> Item<'static> {
    let iter = db
        .range(range.clone())
        .map(|kv| kv.map(|(k, v)| (k.to_vec(), Some(v.to_vec()))));
    if rev {
        Box::new(iter.rev())
    } else {
        Box::new(iter)
    }
}

/// Two ordered streams of changes merged, the upper one hiding the lower on equal keys.
struct Merge<'a> {
    upper: Peekable<Item<'a>>,
    lower: Peekable<Item<'a>>,
    rev: bool,
}

impl Iterator for Merge<'_> {
    type Item = Result<(Vec<u8>, Option<Vec<u8>>), StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        let order = match (self.upper.peek(), self.lower.peek()) {
            (None, None) => return None,
            (Some(_), None) | (Some(Err(_)), _) => std::cmp::Ordering::Less,
            (None, Some(_)) | (_, Some(Err(_))) => std::cmp::Ordering::Greater,
            (Some(Ok((a, _))), Some(Ok((b, _)))) if self.rev => b.cmp(a),
            (Some(Ok((a, _))), Some(Ok((b, _)))) => a.cmp(b),
        };
        match order {
            std::cmp::Ordering::Less => self.upper.next(),
            std::cmp::Ordering::Greater => self.lower.next(),
            std::cmp::Ordering::Equal => {
                self.lower.next();
                self.upper.next()
            }
        }
    }
}

/// The live entries of `range` as the layers show them (`layers` top first, the engine below them
/// all), in key order or in reverse.
pub fn live<'a>(
    layers: &[&'a Overlay],
    db: &Db,
    range: &KeyRange,
    rev: bool,
) -> impl Iterator<Item = Result<Entry, StoreError>> + 'a {
    let mut merged = db_items(db, range, rev);
    for layer in layers.iter().rev() {
        merged = Box::new(Merge {
            upper: overlay_items(layer, range, rev).peekable(),
            lower: merged.peekable(),
            rev,
        });
    }
    merged.filter_map(|item| match item {
        Ok((k, Some(v))) => Some(Ok((k, v))),
        Ok((_, None)) => None,
        Err(e) => Some(Err(e)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn overlay(entries: &[(&str, Option<&str>)]) -> Overlay {
        entries
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.map(|v| v.as_bytes().to_vec())))
            .collect()
    }

    #[test]
    fn upper_layers_hide_lower_ones_both_ways() {
        let db = Db::temporary();
        for k in ["a/1", "a/2", "a/4", "b/1"] {
            db.insert(k, k.as_bytes()).unwrap();
        }
        let staged = overlay(&[("a/2", None), ("a/3", Some("s3")), ("a/4", Some("s4"))]);
        let own = overlay(&[("a/3", None), ("a/5", Some("o5")), ("a/4", Some("o4"))]);
        let range = prefix_range(b"a/");
        let seen = |rev| -> Vec<(String, String)> {
            live(&[&own, &staged], &db, &range, rev)
                .map(|e| e.unwrap())
                .map(|(k, v)| (String::from_utf8(k).unwrap(), String::from_utf8(v).unwrap()))
                .collect()
        };
        let forward = seen(false);
        let expected = [("a/1", "a/1"), ("a/4", "o4"), ("a/5", "o5")];
        let expected: Vec<_> = expected
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(forward, expected);
        let mut backward = seen(true);
        backward.reverse();
        assert_eq!(backward, expected);
    }
}
