//! A message's life on the cluster engine, by the rules every engine shares
//! ([`crate::store::rules`]): the rules change the records; [`Staging`] gathers what they ask
//! of the indexes and writes it in the same transaction, one statement per table whatever
//! the number of messages. Most of the indexes are the record's own columns here (its state,
//! when it is due, its next deadline, the node that claimed it), so they follow from the
//! record.

use super::counts::Deltas;
use super::events::append_events;
use super::prepared::Prepare;
use super::{by_keys, failed, split_keys};
use crate::message::{Kind, Message, MessageId, Millis, State};
use crate::operator_id::normalize_operator_id;
use crate::store::error::StoreError;
use crate::store::event::Event;
use crate::store::layout::codec::{self, DeadlineKind, PARKED_VERSION, ParkedReceipt};
use crate::store::rules::{Indexes, deadlines};
use std::collections::HashMap;
use tokio_postgres::Transaction;

/// What the rules asked of the indexes in one transaction.
#[derive(Default)]
pub struct Staging {
    /// Records to write, the last save of each, with the time of the change that saved it
    /// (see [`Staging::at`]).
    saved: HashMap<MessageId, (Message, Option<Millis>)>,
    /// The time of the change being applied, when a transaction applies several.
    clock: Option<Millis>,
    /// Operator ids given to parts: (operator, operator id) → (message, part).
    indexed: HashMap<(String, String), (MessageId, u32)>,
    /// Operator ids that name no part any more.
    unindexed: Vec<(String, String)>,
    /// Receipts parked for the ids this change may give, read beforehand.
    parked: HashMap<(String, String), ParkedReceipt>,
    /// Parked receipts the change applied.
    unparked: Vec<(String, String)>,
    /// Receipts to park, by the operator id they name (a later one replaces an earlier).
    parks: HashMap<(String, String), ParkedReceipt>,
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
        self.saved.insert(message.id, (message.clone(), self.clock));
        Ok(())
    }
}

/// The earliest deadline still to fire for `m` (see [`deadlines::pending`]).
pub fn next_deadline(m: &Message) -> Option<Millis> {
    deadlines::pending(m).first().map(|&(when, _)| when)
}

impl Staging {
    /// A staging that knows these parked receipts (read beforehand: those a change may apply).
    pub fn with_parked(parked: HashMap<(String, String), ParkedReceipt>) -> Staging {
        Staging {
            parked,
            ..Staging::default()
        }
    }

    /// The changes applied from now on happen at `when` (a finished message records the
    /// time of the change that finished it).
    pub fn at(&mut self, when: Millis) {
        self.clock = Some(when);
    }

    /// Parks `receipt` under `operator_id` until the submit result that names it is recorded.
    pub fn park(&mut self, operator: &str, operator_id: &str, receipt: ParkedReceipt) {
        let key = (operator.to_owned(), operator_id.to_owned());
        self.parks.insert(key, receipt);
    }

    /// What the changes staged so far say of `operator`'s id `operator_id` (its canonical
    /// form): `Some(Some(part))` when one gave it to a part, `Some(None)` when one took it
    /// away, `None` when none touched it (the database knows).
    pub fn operator_id(
        &self,
        operator: &str,
        operator_id: &str,
    ) -> Option<Option<(MessageId, u32)>> {
        let key = (operator.to_owned(), operator_id.to_owned());
        if let Some(&part) = self.indexed.get(&key) {
            return Some(Some(part));
        }
        self.unindexed.contains(&key).then_some(None)
    }

    /// Writes what was gathered, in `tx`; `node` is recorded on the messages it claimed and
    /// given the counters' changes (returned, for the node's own count once committed), `now`
    /// is recorded on the messages that finished.
    pub async fn write(
        self,
        tx: &Transaction<'_>,
        (node, writer): (&str, i16),
        now: Millis,
    ) -> Result<Deltas, StoreError> {
        let rest = self.write_rows(tx, node, now).await?;
        rest.write(tx, node, writer).await?;
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
        let mut rows = Rows::default();
        for (m, at) in self.saved.values() {
            rows.ids.push(m.id.0 as i64);
            rows.states.push(m.state.as_str());
            rows.next_tries.push(m.next_try);
            rows.deadlines.push(next_deadline(m));
            rows.finished_ats.push(at.unwrap_or(now));
            rows.records.push(codec::encode_record(m)?);
        }
        // one statement per table, sent at once (a table's deletions before its insertions)
        let records = async {
            if !rows.ids.is_empty() {
                tx.execute(
                    &tx.prepared(
                        "UPDATE messages AS m
                     SET state = c.state, next_try = c.next_try, deadline = c.deadline,
                         record = c.record,
                         claimed_by = CASE WHEN c.state = 'submitting' THEN $7 END,
                         finished_at = CASE WHEN c.state IN ('queued', 'submitting', 'submitted')
                                            THEN NULL ELSE coalesce(m.finished_at, c.at) END
                     FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::bytea[],
                                 $6::bigint[])
                          AS c (id, state, next_try, deadline, record, at)
                     WHERE m.id = c.id",
                    )
                    .await?,
                    &[
                        &rows.ids,
                        &rows.states,
                        &rows.next_tries,
                        &rows.deadlines,
                        &rows.records,
                        &rows.finished_ats,
                        &node,
                    ],
                )
                .await
                .map_err(|e| failed("changing messages: writing records", e))?;
            }
            Ok::<(), StoreError>(())
        };
        let ids = async {
            by_keys(
                tx,
                "DELETE FROM operator_ids AS o
                 USING unnest($1::text[], $2::text[]) AS u (operator, operator_id)
                 WHERE o.operator = u.operator AND o.operator_id = u.operator_id",
                self.unindexed.iter(),
                "changing messages: forgetting operator ids",
            )
            .await?;
            if !self.indexed.is_empty() {
                let (operators, operator_ids) = split_keys(self.indexed.keys());
                let messages: Vec<i64> = self.indexed.values().map(|(id, _)| id.0 as i64).collect();
                let parts: Vec<i16> = self.indexed.values().map(|(_, p)| *p as i16).collect();
                tx.execute(
                    &tx.prepared(
                        "INSERT INTO operator_ids (operator, operator_id, message_id, part)
                     SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::smallint[])
                     ON CONFLICT (operator, operator_id)
                     DO UPDATE SET message_id = excluded.message_id, part = excluded.part",
                    )
                    .await?,
                    &[&operators, &operator_ids, &messages, &parts],
                )
                .await
                .map_err(|e| failed("changing messages: recording operator ids", e))?;
            }
            Ok(())
        };
        let parked = async {
            by_keys(
                tx,
                "DELETE FROM parked_receipts AS p
                 USING unnest($1::text[], $2::text[]) AS u (operator, operator_id)
                 WHERE p.operator = u.operator AND p.operator_id = u.operator_id",
                self.unparked.iter(),
                "changing messages: removing parked receipts",
            )
            .await?;
            if !self.parks.is_empty() {
                let (operators, operator_ids) = split_keys(self.parks.keys());
                let parked_ats: Vec<Millis> = self.parks.values().map(|r| r.parked_at).collect();
                let receipts = self
                    .parks
                    .values()
                    .map(|r| codec::encode(PARKED_VERSION, r))
                    .collect::<Result<Vec<_>, _>>()?;
                tx.execute(
                    &tx.prepared(
                        "INSERT INTO parked_receipts (operator, operator_id, parked_at, receipt)
                     SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bytea[])
                     ON CONFLICT (operator, operator_id)
                     DO UPDATE SET parked_at = excluded.parked_at, receipt = excluded.receipt",
                    )
                    .await?,
                    &[&operators, &operator_ids, &parked_ats, &receipts],
                )
                .await
                .map_err(|e| failed("recording receipts: parking them", e))?;
            }
            Ok(())
        };
        futures::future::try_join3(records, ids, parked).await?;
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
    /// Appends the events and adds the counters' changes to the rows of `node`'s connection
    /// `writer`, in `tx`.
    pub async fn write(
        &self,
        tx: &Transaction<'_>,
        node: &str,
        writer: i16,
    ) -> Result<(), StoreError> {
        futures::future::try_join(
            append_events(tx, &self.events),
            self.counts.write(tx, node, writer),
        )
        .await?;
        Ok(())
    }
}

/// The columns of the records [`Staging::write_rows`] writes, one array each.
#[derive(Default)]
struct Rows<'a> {
    ids: Vec<i64>,
    states: Vec<&'a str>,
    next_tries: Vec<Millis>,
    deadlines: Vec<Option<Millis>>,
    finished_ats: Vec<Millis>,
    records: Vec<Vec<u8>>,
}
