//! Accepting messages: one atomic batch for a whole group of accepts, idempotent by upstream
//! reference. New queued records are packed into intake chunks of consecutive ids, one lane
//! at a time, so a million queued messages cost tens of thousands of keys, not millions.

use super::chunks;
use super::thread::Writer;
use super::tx::Tx;
use crate::message::{Message, MessageId, Millis, NewMessage, State};
use crate::store::error::StoreError;
use crate::store::layout::codec::{self, DeadlineEntry, DeadlineKind, IntakeChunk};
use crate::store::layout::keys;
use crate::store::reports::Accepted;
use crate::store::rules::{self, LATE_ON_ARRIVAL};
use std::collections::{HashMap, HashSet};

/// Most records in one intake chunk.
const INTAKE_CHUNK_RECORDS: usize = 32;
/// Most bytes in one intake chunk (keeps the engine's leaves of 16 chunks well under its blob size).
const INTAKE_CHUNK_BYTES: usize = 6 * 1024;

enum Outcome {
    /// A new message.
    New,
    /// The reference was already stored.
    Existing(Accepted),
    /// The reference came earlier in this same group (at this index).
    SameAs(usize),
}

/// The next id: creation time in the high bits, unique and increasing even if the clock steps
/// back or more than 2^22 ids are issued within one millisecond.
pub fn next_id(tx: &mut Tx, now: Millis) -> MessageId {
    let id = tx
        .state
        .last_id
        .saturating_add(1)
        .max(MessageId::from_parts(now, 0).0);
    tx.state.last_id = id;
    MessageId(id)
}

impl Writer {
    /// Accepts a group of messages in one batch; every slot fails alike if the batch does.
    pub(super) fn accept_run(
        &mut self,
        messages: Vec<NewMessage>,
        now: Millis,
    ) -> Vec<Result<Accepted, StoreError>> {
        let n = messages.len();
        let result = self.try_accept_run(messages, now).map(|(tx, results)| {
            self.commit(tx);
            results
        });
        match result {
            Ok(results) => results.into_iter().map(Ok).collect(),
            Err(e) => (0..n).map(|_| Err(e.clone())).collect(),
        }
    }

    fn try_accept_run(
        &self,
        messages: Vec<NewMessage>,
        now: Millis,
    ) -> Result<(Tx, Vec<Accepted>), StoreError> {
        let mut tx = self.tx();
        let n = messages.len();
        let mut buckets: HashMap<Vec<u8>, Vec<(u64, MessageId)>> = HashMap::new();
        let mut touched_buckets: HashSet<Vec<u8>> = HashSet::new();
        let mut first_in_run: HashMap<&str, usize> = HashMap::new();
        let mut hashes: Vec<Option<(u64, Vec<u8>)>> = vec![None; n];
        let mut outcomes = Vec::with_capacity(n);

        for (i, m) in messages.iter().enumerate() {
            let Some(reference) = m.reference.as_deref() else {
                outcomes.push(Outcome::New);
                continue;
            };
            if let Some(&j) = first_in_run.get(reference) {
                outcomes.push(Outcome::SameAs(j));
                continue;
            }
            let hash = keys::reference_hash(reference);
            let bucket = keys::reference_bucket(hash);
            if !buckets.contains_key(&bucket) {
                let pairs = tx
                    .get(&bucket)?
                    .map(|b| codec::unpack_pairs(&b))
                    .unwrap_or_default();
                buckets.insert(bucket.clone(), pairs);
            }
            if let Some(found) = find_reference(&tx, &buckets[&bucket], hash, reference)? {
                outcomes.push(Outcome::Existing(Accepted {
                    id: found.id,
                    state: found.state,
                    duplicate: true,
                }));
                continue;
            }
            first_in_run.insert(reference, i);
            hashes[i] = Some((hash, bucket));
            outcomes.push(Outcome::New);
        }
        // references not live may belong to finished messages, in the history tier
        let unseen: Vec<&str> = first_in_run.keys().copied().collect();
        let moved = tx.history_references(&unseen)?;
        if !moved.is_empty() {
            for (i, m) in messages.iter().enumerate() {
                let found = m.reference.as_deref().and_then(|r| moved.get(r));
                match (&outcomes[i], found) {
                    (Outcome::New, Some(&(id, state))) => {
                        outcomes[i] = Outcome::Existing(Accepted {
                            id,
                            state,
                            duplicate: true,
                        });
                    }
                    (&Outcome::SameAs(j), _) => {
                        if let Outcome::Existing(first) = &outcomes[j] {
                            outcomes[i] = Outcome::Existing(*first);
                        }
                    }
                    _ => {}
                }
            }
        }

        // ids lane by lane, so each lane's intake chunks cover disjoint id ranges
        let mut order: Vec<usize> = (0..n)
            .filter(|&i| matches!(outcomes[i], Outcome::New))
            .collect();
        order.sort_by_key(|&i| messages[i].kind.lane());
        let mut issued = vec![(MessageId(0), State::Queued); n];
        let mut lanes: [Vec<(MessageId, Vec<u8>)>; 4] = Default::default();
        // due at once, per lane; and those held (an OTP over its number's limit) until later
        let mut due_now: [Vec<MessageId>; 4] = Default::default();
        let mut held = Vec::new();
        let mut deadlines = Vec::new();
        let mut messages: Vec<Option<NewMessage>> = messages.into_iter().map(Some).collect();

        for &i in &order {
            let Some(new) = messages[i].take() else {
                continue;
            };
            let id = next_id(&mut tx, now);
            let mut record = Message::accepted(id, new, now);
            if let Some((hash, bucket)) = hashes[i].take() {
                let pairs = buckets.entry(bucket.clone()).or_default();
                let at = pairs.partition_point(|p| *p < (hash, id));
                pairs.insert(at, (hash, id));
                touched_buckets.insert(bucket);
            }
            if record.send_by.is_some_and(|s| s <= now) {
                let why = Some(LATE_ON_ARRIVAL.to_owned());
                let told = rules::change_state(&mut record, State::Expired, now, why);
                tx.state.counts.add(record.kind, State::Expired);
                tx.save(&record)?;
                if let Some(event) = told {
                    tx.emit(event)?;
                }
                issued[i] = (id, State::Expired);
                continue;
            }
            tx.state.counts.add(record.kind, State::Queued);
            if let Some(when) = record.send_by {
                deadlines.push(DeadlineEntry {
                    when,
                    kind: DeadlineKind::SendBy,
                    id,
                });
            }
            if let Some(when) = record.receipt_by {
                deadlines.push(DeadlineEntry {
                    when,
                    kind: DeadlineKind::ReceiptBy,
                    id,
                });
            }
            let lane = record.kind.lane();
            match record.extra.held_until.filter(|&until| until > now) {
                // queued for its place, so nothing claims it before (nor at acceptance)
                Some(until) => {
                    record.next_try = until;
                    held.push((lane, until, id));
                }
                None => due_now[lane as usize].push(id),
            }
            lanes[lane as usize].push((id, codec::encode_record(&record)?));
            issued[i] = (id, State::Queued);
        }

        for (lane, records) in lanes.into_iter().enumerate() {
            write_intake_chunks(&mut tx, records);
            if !due_now[lane].is_empty() {
                chunks::enqueue(&mut tx, lane as u8, now, &due_now[lane])?;
            }
        }
        for (lane, until, id) in held {
            chunks::enqueue(&mut tx, lane, until, &[id])?;
        }
        chunks::add_deadlines(&mut tx, &deadlines)?;
        for bucket in touched_buckets {
            let pairs = buckets.remove(&bucket).unwrap_or_default();
            tx.put(bucket, codec::pack_pairs(&pairs));
        }

        let results = outcomes
            .into_iter()
            .enumerate()
            .map(|(i, outcome)| match outcome {
                Outcome::New => Accepted {
                    id: issued[i].0,
                    state: issued[i].1,
                    duplicate: false,
                },
                Outcome::Existing(found) => found,
                Outcome::SameAs(j) => Accepted {
                    id: issued[j].0,
                    state: issued[j].1,
                    duplicate: true,
                },
            })
            .collect();
        Ok((tx, results))
    }
}

/// The stored message with this reference among a bucket's pairs, if any.
pub fn find_reference(
    tx: &Tx,
    pairs: &[(u64, MessageId)],
    hash: u64,
    reference: &str,
) -> Result<Option<Message>, StoreError> {
    let start = pairs.partition_point(|p| p.0 < hash);
    for &(_, id) in pairs[start..].iter().take_while(|p| p.0 == hash) {
        if let Some((message, _)) = tx.load(id)?
            && message.reference.as_deref() == Some(reference)
        {
            return Ok(Some(message));
        }
    }
    Ok(None)
}

/// Packs one lane's new records (in id order) into intake chunks.
fn write_intake_chunks(tx: &mut Tx, records: Vec<(MessageId, Vec<u8>)>) {
    let mut chunk: Vec<(MessageId, Vec<u8>)> = Vec::new();
    let mut bytes = 0;
    let flush = |tx: &mut Tx, chunk: &mut Vec<(MessageId, Vec<u8>)>| {
        if let Some((first, _)) = chunk.first() {
            let key = keys::intake(*first);
            let records = std::mem::take(chunk);
            tx.put(key, IntakeChunk { records }.encode());
        }
    };
    for (id, record) in records {
        if !chunk.is_empty()
            && (chunk.len() >= INTAKE_CHUNK_RECORDS || bytes + record.len() > INTAKE_CHUNK_BYTES)
        {
            flush(tx, &mut chunk);
            bytes = 0;
        }
        bytes += record.len() + 12;
        chunk.push((id, record));
    }
    flush(tx, &mut chunk);
}
