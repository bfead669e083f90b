//! A message's life after its claim on the cluster engine: one change to one message in one
//! transaction, by the rules every engine shares ([`crate::store::rules`]). The rules change
//! the record; [`Staging`] gathers what they ask of the indexes and writes it in the same
//! transaction. Most of the indexes are the record's own columns here (its state, when it is
//! due, its next deadline, the node that claimed it), so they follow from the record.

use super::committer::{Committer, begin};
use super::counts::Deltas;
use super::events::append_events;
use super::failed;
use super::prepared::Prepare;
use crate::message::{Kind, Message, MessageId, Millis, State};
use crate::operator_id::{id_candidates, normalize_operator_id};
use crate::store::error::StoreError;
use crate::store::event::Event;
use crate::store::layout::codec::{self, DeadlineKind, PARKED_VERSION, ParkedReceipt};
use crate::store::rules::{self, Change, Indexes, deadlines};
use std::collections::HashMap;
use tokio_postgres::Transaction;

/// What the rules asked of the indexes in one transaction.
#[derive(Default)]
pub struct Staging {
    /// Records to write, the last save of each.
    saved: HashMap<MessageId, Message>,
    /// Operator ids given to parts: (operator, operator id) → (message, part).
    indexed: HashMap<(String, String), (MessageId, u32)>,
    /// Operator ids that name no part any more.
    unindexed: Vec<(String, String)>,
    /// Receipts parked for the ids this change may give, read beforehand.
    parked: HashMap<(String, String), ParkedReceipt>,
    /// Parked receipts the change applied.
    unparked: Vec<(String, String)>,
    /// Events to append.
    events: Vec<Event>,
    /// Changes to the counters.
    counts: Deltas,
}

impl Indexes for Staging {
    /// The queue is the records in state `queued`: nothing to take out.
    fn dequeue(&mut self, _lane: u8, _due: Millis, _id: MessageId) -> Result<bool, StoreError> {
        Ok(true)
    }

    /// The queue is the records in state `queued`, due at their `next_try`.
    fn enqueue(&mut self, _lane: u8, _due: Millis, _id: MessageId) -> Result<(), StoreError> {
        Ok(())
    }

    /// `claimed_by` follows the record's state.
    fn enter_flight(&mut self, _id: MessageId) {}

    /// `claimed_by` follows the record's state.
    fn leave_flight(&mut self, _id: MessageId) {}

    /// `finished_at` follows the record's state.
    fn finished(&mut self, _id: MessageId) {}

    fn count_moved(&mut self, kind: Kind, from: State, to: State) {
        self.counts.moved(kind, from, to);
    }

    /// The `deadline` column is the record's next deadline (see [`next_deadline`]).
    fn add_deadline(
        &mut self,
        _id: MessageId,
        _when: Millis,
        _kind: DeadlineKind,
    ) -> Result<(), StoreError> {
        Ok(())
    }

    /// Under the id's canonical form, as receipts look it up.
    fn index_operator_id(&mut self, operator: &str, operator_id: &str, id: MessageId, part: u32) {
        let key = (operator.to_owned(), normalize_operator_id(operator_id));
        self.unindexed.retain(|k| *k != key);
        self.indexed.insert(key, (id, part));
    }

    fn unindex_operator_id(&mut self, operator: &str, operator_id: &str) {
        let key = (operator.to_owned(), normalize_operator_id(operator_id));
        self.indexed.remove(&key);
        self.unindexed.push(key);
    }

    fn any_parked(&self) -> bool {
        !self.parked.is_empty()
    }

    fn take_parked(
        &mut self,
        operator: &str,
        operator_id: &str,
    ) -> Result<Option<ParkedReceipt>, StoreError> {
        let key = (operator.to_owned(), operator_id.to_owned());
        let taken = self.parked.remove(&key);
        if taken.is_some() {
            self.unparked.push(key);
        }
        Ok(taken)
    }

    fn emit(&mut self, event: Event) -> Result<(), StoreError> {
        self.events.push(event);
        Ok(())
    }

    fn save(&mut self, message: &Message) -> Result<(), StoreError> {
        self.saved.insert(message.id, message.clone());
        Ok(())
    }
}

/// The earliest deadline still to fire for `m` (see [`deadlines::pending`]).
pub fn next_deadline(m: &Message) -> Option<Millis> {
    deadlines::pending(m).first().map(|&(when, _)| when)
}

impl Staging {
    /// Writes what was gathered, in `tx`; `node` is recorded on the messages it claimed and
    /// given the counters' changes (returned, for the node's own count once committed), `now`
    /// is recorded on the messages that finished.
    pub async fn write(
        self,
        tx: &Transaction<'_>,
        node: &str,
        now: Millis,
    ) -> Result<Deltas, StoreError> {
        let rest = self.write_rows(tx, node, now).await?;
        rest.write(tx, node).await?;
        Ok(rest.counts)
    }

    /// [`Staging::write`] of the rows only (records, operator ids, parked receipts): the
    /// events and the counters' changes are left for the end of the transaction, so that a
    /// group of changes writes them once.
    pub async fn write_rows(
        self,
        tx: &Transaction<'_>,
        node: &str,
        now: Millis,
    ) -> Result<Leftover, StoreError> {
        let (mut ids, mut states, mut next_tries, mut deadlines) = (vec![], vec![], vec![], vec![]);
        let mut records = Vec::with_capacity(self.saved.len());
        for m in self.saved.values() {
            ids.push(m.id.0 as i64);
            states.push(m.state.as_str());
            next_tries.push(m.next_try);
            deadlines.push(next_deadline(m));
            records.push(codec::encode_record(m)?);
        }
        if !ids.is_empty() {
            tx.execute(
                &tx.prepared(
                    "UPDATE messages AS m
                 SET state = c.state, next_try = c.next_try, deadline = c.deadline,
                     record = c.record,
                     claimed_by = CASE WHEN c.state = 'submitting' THEN $6 END,
                     finished_at = CASE WHEN c.state IN ('queued', 'submitting', 'submitted')
                                        THEN NULL ELSE coalesce(m.finished_at, $7) END
                 FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::bytea[])
                      AS c (id, state, next_try, deadline, record)
                 WHERE m.id = c.id",
                )
                .await?,
                &[
                    &ids,
                    &states,
                    &next_tries,
                    &deadlines,
                    &records,
                    &node,
                    &now,
                ],
            )
            .await
            .map_err(|e| failed("changing a message: writing records", e))?;
        }
        for (operator, operator_id) in &self.unindexed {
            tx.execute(
                &tx.prepared("DELETE FROM operator_ids WHERE operator = $1 AND operator_id = $2")
                    .await?,
                &[operator, operator_id],
            )
            .await
            .map_err(|e| failed("changing a message: forgetting an operator id", e))?;
        }
        for ((operator, operator_id), (id, part)) in &self.indexed {
            tx.execute(
                &tx.prepared(
                    "INSERT INTO operator_ids (operator, operator_id, message_id, part)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (operator, operator_id)
                 DO UPDATE SET message_id = excluded.message_id, part = excluded.part",
                )
                .await?,
                &[operator, operator_id, &(id.0 as i64), &(*part as i16)],
            )
            .await
            .map_err(|e| failed("changing a message: recording an operator id", e))?;
        }
        for (operator, operator_id) in &self.unparked {
            tx.execute(
                &tx.prepared(
                    "DELETE FROM parked_receipts WHERE operator = $1 AND operator_id = $2",
                )
                .await?,
                &[operator, operator_id],
            )
            .await
            .map_err(|e| failed("changing a message: removing a parked receipt", e))?;
        }
        Ok(Leftover {
            counts: self.counts,
            events: self.events,
        })
    }
}

/// What changes leave for the end of their transaction: the events to append and the
/// counters' changes.
#[derive(Default)]
pub struct Leftover {
    /// The counters' changes.
    pub counts: Deltas,
    /// The events, in the order the changes gave them.
    pub events: Vec<Event>,
}

impl Leftover {
    /// Takes in what a later change left.
    pub fn absorb(&mut self, later: Leftover) {
        self.counts.absorb(&later.counts);
        self.events.extend(later.events);
    }

    /// Appends the events and adds the counters' changes to `node`'s rows, in `tx`.
    pub async fn write(&self, tx: &Transaction<'_>, node: &str) -> Result<(), StoreError> {
        append_events(tx, &self.events).await?;
        self.counts.write(tx, node).await
    }
}

/// Applies `change` to message `id` in one transaction (its row locked meanwhile, so a
/// change from another node waits for it); the message as it is now.
pub async fn change(
    w: &mut Committer,
    id: MessageId,
    change: Change,
    now: Millis,
) -> Result<Message, StoreError> {
    let tx = begin(&mut w.client, "changing a message").await?;
    let (message, rest) = change_in(&tx, &w.node, id, change, now).await?;
    rest.write(&tx, &w.node).await?;
    tx.commit()
        .await
        .map_err(|e| failed("changing a message: committing", e))?;
    w.committed(&rest.counts);
    Ok(message)
}

/// [`change`] inside `tx` (not committed) on `node`, its events and counters left to write
/// ([`Leftover`]); the message.
/// A refusal by the rules comes before anything is written, so `tx` stays usable after it;
/// a database error leaves it aborted.
pub async fn change_in(
    tx: &Transaction<'_>,
    node: &str,
    id: MessageId,
    change: Change,
    now: Millis,
) -> Result<(Message, Leftover), StoreError> {
    let row = tx
        .query_opt(
            &tx.prepared("SELECT record FROM messages WHERE id = $1 FOR UPDATE")
                .await?,
            &[&(id.0 as i64)],
        )
        .await
        .map_err(|e| failed("changing a message: reading the message", e))?;
    let Some(row) = row else {
        return Err(StoreError::NotFound(id));
    };
    let mut message = codec::decode_record(row.get(0))?;
    let mut staging = Staging::default();
    if let Change::Accepted {
        operator, accepted, ..
    } = &change
    {
        staging.parked = parked_for(tx, operator, accepted).await?;
    }
    rules::apply_change(&mut staging, &mut message, change, now)?;
    let rest = staging.write_rows(tx, node, now).await?;
    Ok((message, rest))
}

/// The receipts parked under any form of the operator ids just given.
async fn parked_for(
    tx: &Transaction<'_>,
    operator: &str,
    accepted: &[(u32, String)],
) -> Result<HashMap<(String, String), ParkedReceipt>, StoreError> {
    let candidates: Vec<String> = accepted
        .iter()
        .flat_map(|(_, operator_id)| id_candidates(operator_id))
        .collect();
    let rows = tx
        .query(
            &tx.prepared(
                "SELECT operator_id, receipt FROM parked_receipts
             WHERE operator = $1 AND operator_id = ANY($2)",
            )
            .await?,
            &[&operator, &candidates],
        )
        .await
        .map_err(|e| failed("changing a message: looking for parked receipts", e))?;
    let mut parked = HashMap::new();
    for row in rows {
        let receipt = codec::decode(PARKED_VERSION, row.get(1), "parked receipt")?;
        parked.insert((operator.to_owned(), row.get(0)), receipt);
    }
    Ok(parked)
}
