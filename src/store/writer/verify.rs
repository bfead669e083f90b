//! The integrity check: every index against the records, and the counters against a recount.
//! It runs on the writer thread, so no write interleaves with it. It holds the queue,
//! in-flight and deadline indexes in memory (tens of bytes per entry) and streams the records.

use super::chunks::deadline_times;
use super::history_view::HistoryView;
use super::state::WriterState;
use crate::message::{Message, MessageId, Millis, State};
use crate::store::counts::Counts;
use crate::store::engine::Db;
use crate::store::error::StoreError;
use crate::store::layout::codec::{self, DeadlineKind, IntakeChunk};
use crate::store::layout::event_run;
use crate::store::layout::keys;
use crate::store::layout::lookup::load;
use std::collections::{HashMap, HashSet};

/// At most this many problems are listed.
const MAX_PROBLEMS: usize = 1000;

struct Checker<'a> {
    db: &'a Db,
    history: &'a HistoryView,
    state: &'a WriterState,
    problems: Vec<String>,
    queue: HashMap<MessageId, (u8, Millis)>,
    in_flight: HashSet<MessageId>,
    deadlines: HashSet<(MessageId, DeadlineKind, Millis)>,
    counts: Counts,
    max_id: u64,
    max_chunk_seq: u64,
}

/// Lists every disagreement between the indexes and the records (empty = consistent). The
/// history tier counts in the counters; a message in both tiers (moving, or left live by a
/// crash while it moved) counts once, as its live copy.
pub fn check(
    db: &Db,
    history: &HistoryView,
    state: &WriterState,
) -> Result<Vec<String>, StoreError> {
    let mut c = Checker {
        db,
        history,
        state,
        problems: Vec::new(),
        queue: HashMap::new(),
        in_flight: HashSet::new(),
        deadlines: HashSet::new(),
        counts: Counts::default(),
        max_id: 0,
        max_chunk_seq: 0,
    };
    c.read_indexes()?;
    c.records()?;
    c.moved()?;
    c.leftovers();
    c.operator_ids()?;
    c.references()?;
    c.bookkeeping()?;
    c.problems.truncate(MAX_PROBLEMS);
    Ok(c.problems)
}

impl Checker<'_> {
    fn problem(&mut self, text: String) {
        if self.problems.len() <= MAX_PROBLEMS {
            self.problems.push(text);
        }
    }

    fn read_indexes(&mut self) -> Result<(), StoreError> {
        for kv in self.db.scan_prefix(keys::QUEUE) {
            let (k, v) = kv?;
            let Some((lane, due)) = keys::queue_chunk_parts(&k) else {
                self.problem(format!("unreadable queue key {k:?}"));
                continue;
            };
            self.max_chunk_seq = self
                .max_chunk_seq
                .max(codec::read_u64(&k, keys::QUEUE.len() + 9).unwrap_or(0));
            if v.is_empty() || v.len() % 8 != 0 {
                self.problem(format!("queue chunk {k:?} has {} bytes", v.len()));
            }
            for id in codec::unpack_ids(&v) {
                if self.queue.insert(id, (lane, due)).is_some() {
                    self.problem(format!("{id} is queued twice"));
                }
            }
        }
        for kv in self.db.scan_prefix(keys::IN_FLIGHT) {
            let (k, v) = kv?;
            if v.len() % 8 != 0 || (v.is_empty() && keys::id_after(keys::IN_FLIGHT, &k).is_none()) {
                self.problem(format!("unreadable in-flight key {k:?}"));
            }
            self.in_flight.extend(keys::in_flight_ids(&k, &v));
        }
        for kv in self.db.scan_prefix(keys::DEADLINE) {
            let (k, v) = kv?;
            let bucket = keys::deadline_chunk_bucket(&k).unwrap_or(-1);
            self.max_chunk_seq = self
                .max_chunk_seq
                .max(codec::read_u64(&k, keys::DEADLINE.len() + 8).unwrap_or(0));
            for e in codec::unpack_deadlines(&v) {
                if keys::deadline_bucket_of(e.when) != bucket {
                    self.problem(format!(
                        "deadline of {} at {} filed under bucket {bucket}",
                        e.id, e.when
                    ));
                }
                if e.id.0 >= self.state.forget_cursor
                    && e.id.0 >= self.state.history_forget_cursor
                    && load(self.db, e.id)?.is_none()
                {
                    match self.history.get(e.id)? {
                        None => {
                            self.problem(format!("deadline entry for missing message {}", e.id))
                        }
                        // the move takes the entries of the deadlines the message names
                        Some(m) if deadline_times(&m).any(|(when, _)| when == e.when) => self
                            .problem(format!(
                                "deadline entry of {} left behind when it moved to the history",
                                e.id
                            )),
                        Some(_) => {}
                    }
                }
                self.deadlines.insert((e.id, e.kind, e.when));
            }
        }
        Ok(())
    }

    fn records(&mut self) -> Result<(), StoreError> {
        for kv in self.db.scan_prefix(keys::RECORD) {
            let (k, v) = kv?;
            match codec::decode_record(&v) {
                Ok(m) if keys::id_after(keys::RECORD, &k) == Some(m.id) => self.record(&m)?,
                Ok(m) => self.problem(format!("record {} stored under key {k:?}", m.id)),
                Err(e) => self.problem(format!("record key {k:?}: {e}")),
            }
        }
        let mut previous_last = 0u64;
        for kv in self.db.scan_prefix(keys::INTAKE) {
            let (k, v) = kv?;
            let chunk = match IntakeChunk::decode(&v) {
                Ok(chunk) => chunk,
                Err(e) => {
                    self.problem(format!("intake chunk {k:?}: {e}"));
                    continue;
                }
            };
            let ids: Vec<u64> = chunk.records.iter().map(|(id, _)| id.0).collect();
            if keys::intake_first(&k).map(|id| id.0) != ids.first().copied()
                || ids.windows(2).any(|w| w[0] >= w[1])
                || ids
                    .first()
                    .is_some_and(|first| *first <= previous_last && previous_last != 0)
            {
                self.problem(format!(
                    "intake chunk {k:?} is out of order or overlaps the previous one"
                ));
            }
            previous_last = ids.last().copied().unwrap_or(previous_last);
            for (id, bytes) in chunk.records {
                if self.db.contains_key(keys::record(id))? {
                    self.problem(format!(
                        "{id} is both in an intake chunk and under its own key"
                    ));
                }
                match codec::decode_record(&bytes) {
                    Ok(m) if m.id == id && m.state == State::Queued => self.record(&m)?,
                    Ok(m) => {
                        self.problem(format!("intake chunk holds {} in state {}", m.id, m.state))
                    }
                    Err(e) => self.problem(format!("intake record {id}: {e}")),
                }
            }
        }
        Ok(())
    }

    /// Counts the history tier, less the messages also live (counted as their live copy).
    fn moved(&mut self) -> Result<(), StoreError> {
        let moved = self.history.counts()?;
        for (total, add) in self.counts.states.iter_mut().zip(moved.states) {
            *total += add;
        }
        for kv in self.db.scan_prefix(keys::RECORD) {
            let (_, v) = kv?;
            let Ok(live) = codec::decode_record(&v) else {
                continue; // listed by `records`
            };
            if live.state.is_final()
                && let Some(copy) = self.history.get(live.id)?
            {
                self.counts.remove(copy.kind, copy.state);
            }
        }
        self.max_id = self.max_id.max(self.history.history().max_id()?);
        Ok(())
    }

    fn record(&mut self, m: &Message) -> Result<(), StoreError> {
        let id = m.id;
        self.max_id = self.max_id.max(id.0);
        self.counts.add(m.kind, m.state);
        if m.history.last().map(|t| t.state) != Some(m.state) {
            self.problem(format!(
                "{id} is {} but its history ends elsewhere",
                m.state
            ));
        }
        match (m.state, self.queue.remove(&id)) {
            (State::Queued, Some(entry)) if entry == (m.kind.lane(), m.next_try) => {}
            (State::Queued, found) => self.problem(format!(
                "{id} is queued for {} but the queue has {found:?}",
                m.next_try
            )),
            (state, Some(_)) => self.problem(format!("{id} is {state} but still in the queue")),
            (_, None) => {}
        }
        // a run keeps naming those of its ids that have landed, so only a missing mark counts
        if !self.in_flight.remove(&id) && m.state == State::Submitting {
            self.problem(format!("{id} is submitting but no in-flight run names it"));
        }
        if !m.state.is_final() {
            let clock = self.state.deadline_clock;
            let wanted = [
                (DeadlineKind::SendBy, m.send_by),
                (DeadlineKind::ReceiptBy, m.receipt_by),
            ];
            for (kind, when) in wanted {
                if let Some(when) = when.filter(|w| *w > clock)
                    && !self.deadlines.contains(&(id, kind, when))
                {
                    self.problem(format!("{id} has no {kind:?} deadline entry for {when}"));
                }
            }
        }
        if let Some(operator) = &m.operator {
            for (i, part) in m.parts.iter().enumerate() {
                let Some(op_id) = &part.operator_id else {
                    continue;
                };
                let found = self.db.get(keys::operator_id(operator, op_id))?;
                if found.as_deref().and_then(codec::unpack_part_ref) != Some((id, i as u32)) {
                    self.problem(format!("{id} part {i} ({operator} {op_id}) is not indexed"));
                }
            }
        }
        if let Some(reference) = &m.reference {
            let hash = keys::reference_hash(reference);
            let bucket = self.db.get(keys::reference_bucket(hash))?;
            let pairs = bucket.map(|b| codec::unpack_pairs(&b)).unwrap_or_default();
            if !pairs.contains(&(hash, id)) {
                self.problem(format!("{id}'s reference is not indexed"));
            }
        }
        Ok(())
    }

    fn leftovers(&mut self) {
        let queued: Vec<_> = self.queue.drain().collect();
        for (id, (lane, due)) in queued {
            self.problem(format!(
                "queue lane {lane} at {due} lists {id}, which has no record"
            ));
        }
        // in-flight runs may name forgotten ids; only the record's side is checked
        self.in_flight.clear();
    }

    fn operator_ids(&mut self) -> Result<(), StoreError> {
        for kv in self.db.scan_prefix(keys::OPERATOR_ID) {
            let (k, v) = kv?;
            let Some((id, part)) = codec::unpack_part_ref(&v) else {
                self.problem(format!("unreadable operator-id entry {k:?}"));
                continue;
            };
            let matches = load(self.db, id)?.is_some_and(|m| {
                let op_id = m
                    .parts
                    .get(part as usize)
                    .and_then(|p| p.operator_id.as_deref());
                match (m.operator.as_deref(), op_id) {
                    (Some(operator), Some(op_id)) => {
                        keys::operator_id(operator, op_id) == k.as_ref()
                    }
                    _ => false,
                }
            });
            if !matches {
                self.problem(format!(
                    "operator-id entry {k:?} points at {id} part {part}, which disagrees"
                ));
            }
        }
        Ok(())
    }

    fn references(&mut self) -> Result<(), StoreError> {
        for kv in self.db.scan_prefix(keys::REFERENCE) {
            let (k, v) = kv?;
            let pairs = codec::unpack_pairs(&v);
            let mut seen: HashMap<String, MessageId> = HashMap::new();
            for (hash, id) in pairs {
                let Some(m) = load(self.db, id)? else {
                    self.problem(format!("reference bucket {k:?} names missing message {id}"));
                    continue;
                };
                let Some(reference) = m.reference else {
                    self.problem(format!("reference bucket {k:?} names {id}, which has none"));
                    continue;
                };
                if keys::reference_hash(&reference) != hash {
                    self.problem(format!("{id} is filed under the wrong reference hash"));
                }
                if let Some(first) = seen.insert(reference, id) {
                    self.problem(format!("{first} and {id} share one reference"));
                }
            }
        }
        Ok(())
    }

    fn bookkeeping(&mut self) -> Result<(), StoreError> {
        if self.counts != self.state.counts {
            self.problem(format!(
                "counters {:?} but a recount gives {:?}",
                self.state.counts, self.counts
            ));
        }
        if self.max_id > self.state.last_id {
            self.problem(format!(
                "id {} was stored but the last issued id is {}",
                self.max_id, self.state.last_id
            ));
        }
        if self.max_chunk_seq > self.state.chunk_seq {
            self.problem(format!(
                "chunk seq {} exceeds the last issued {}",
                self.max_chunk_seq, self.state.chunk_seq
            ));
        }
        for kv in self.db.scan_prefix(keys::EVENT) {
            let (k, v) = kv?;
            let first = keys::event_seq(&k).unwrap_or(u64::MAX);
            match event_run::decode(first, &v) {
                Ok(events) => {
                    let last = events.last().map_or(first, |e| e.seq);
                    if events.first().is_some_and(|e| e.seq != first) {
                        self.problem(format!("event run {first} starts at another seq"));
                    }
                    if last > self.state.event_seq {
                        self.problem(format!(
                            "event {last} is beyond the last issued {}",
                            self.state.event_seq
                        ));
                    }
                }
                Err(e) => self.problem(format!("event {first}: {e}")),
            }
        }
        for kv in self.db.scan_prefix(keys::CURSOR) {
            let (k, v) = kv?;
            if codec::read_u64(&v, 0).is_none_or(|seq| seq > self.state.event_seq) {
                self.problem(format!("cursor {k:?} points beyond the event log"));
            }
        }
        let parked = self.db.scan_prefix(keys::PARKED).count() as u64;
        if parked != self.state.parked {
            self.problem(format!(
                "{parked} receipts are parked, the bookkeeping says {}",
                self.state.parked
            ));
        }
        Ok(())
    }
}
