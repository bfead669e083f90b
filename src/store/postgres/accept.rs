//! Accepting a group of messages in one transaction: idempotent by upstream reference across
//! every node, ids that rise in commit order, a message already past its `send_by` expired
//! at once (the rules of the sled engine's `writer/accept.rs`).

use super::committer::Committer;
use super::counts::Deltas;
use super::events::append_events;
use super::failed;
use super::life::next_deadline;
use super::prepared::Prepare;
use crate::message::{Message, MessageId, Millis, NewMessage, State};
use crate::store::error::StoreError;
use crate::store::layout::codec;
use crate::store::reports::Accepted;
use crate::store::rules::{self, LATE_ON_ARRIVAL};
use std::collections::HashMap;
use tokio_postgres::{Client, GenericClient};

/// What became of one message of the group.
enum Outcome {
    /// Stored now, with this id and state.
    New(MessageId, State),
    /// Its reference was stored before: that message.
    Existing(Accepted),
    /// Its reference came earlier in this group (at this index).
    SameAs(usize),
}

/// Locks the row of the last message id handed out.
const LOCK_IDS: &str = "SELECT last FROM sequences WHERE name = 'message' FOR UPDATE";
/// The messages stored under any of these references.
const LOOK_UP_REFERENCES: &str =
    "SELECT reference, id, state FROM messages WHERE reference = ANY($1)";

/// Accepts `messages` in one transaction, committed before it returns; one answer each.
pub async fn accept_group(
    w: &mut Committer,
    messages: Vec<NewMessage>,
    now: Millis,
) -> Result<Vec<Accepted>, StoreError> {
    let written = write_group(&w.client, (&w.node, w.writer), messages, now).await;
    let (outcomes, counted) = match written {
        Ok(written) => written,
        Err(e) => {
            if !w.client.is_closed() {
                let _ = w.client.batch_execute("ROLLBACK").await;
            }
            return Err(e);
        }
    };
    // from here a lost connection leaves the outcome unknown: the group is not tried again
    w.commit_sent = true;
    w.client
        .batch_execute("COMMIT")
        .await
        .map_err(|e| failed("accepting messages: committing", e))?;
    w.committed(&counted);
    Ok(answers(&outcomes))
}

/// The transaction of [`accept_group`] up to its commit, on `client` (`BEGIN` is sent with
/// its first statements rather than waited for, as `Client::transaction` would): each
/// message's outcome and the counters' changes. On an error the caller rolls back.
async fn write_group(
    client: &Client,
    (node, writer): (&str, i16),
    messages: Vec<NewMessage>,
    now: Millis,
) -> Result<(Vec<Outcome>, Deltas), StoreError> {
    // the ids' row locked first (held until the commit: a reference looked up after it sees
    // every earlier accept); the three statements sent at once
    let begin = async {
        client
            .batch_execute("BEGIN")
            .await
            .map_err(|e| failed("accepting messages: starting", e))
    };
    let locking = client.prepared(LOCK_IDS).await?;
    client.prepared(LOOK_UP_REFERENCES).await?; // so that its query is sent after the lock's
    let lock = async {
        let row = client
            .query_one(&locking, &[])
            .await
            .map_err(|e| failed("accepting messages: locking the message ids", e))?;
        Ok::<i64, StoreError>(row.get(0))
    };
    let ((), last_id, mut outcomes) =
        futures::future::try_join3(begin, lock, known_references(client, &messages)).await?;
    let fresh = outcomes.iter().filter(|o| o.is_none()).count();
    let first = (last_id as u64 + 1).max(MessageId::from_parts(now, 0).0);
    let mut next = first;
    let mut rows = Rows::default();
    let mut events = Vec::new();
    let mut counted = Deltas::default();
    for (new, outcome) in messages.into_iter().zip(outcomes.iter_mut()) {
        if outcome.is_some() {
            continue;
        }
        let id = MessageId(next);
        next += 1;
        let mut message = Message::accepted(id, new, now);
        if message.send_by.is_some_and(|s| s <= now) {
            let why = Some(LATE_ON_ARRIVAL.to_owned());
            events.extend(rules::change_state(&mut message, State::Expired, now, why));
        } else if let Some(until) = message.extra.held_until.filter(|&u| u > now) {
            message.next_try = until;
        }
        *outcome = Some(Outcome::New(id, message.state));
        counted.add(message.kind, message.state);
        rows.push(&message, now)?;
    }
    // the writes sent at once: none depends on another's answer
    let store = async {
        if fresh > 0 {
            client
                .execute(
                    &client
                        .prepared("UPDATE sequences SET last = $1 WHERE name = 'message'")
                        .await?,
                    &[&((next - 1) as i64)],
                )
                .await
                .map_err(|e| failed("accepting messages: recording the last id", e))?;
        }
        Ok::<(), StoreError>(())
    };
    let insert = async {
        if fresh > 0 {
            rows.insert(client).await?;
        }
        Ok(())
    };
    futures::future::try_join4(
        store,
        insert,
        append_events(client, &events),
        counted.write(client, node, writer),
    )
    .await?;
    Ok((outcomes.into_iter().flatten().collect(), counted))
}

/// Each message's answer from its outcome.
fn answers(outcomes: &[Outcome]) -> Vec<Accepted> {
    outcomes
        .iter()
        .map(|outcome| match outcome {
            Outcome::New(id, state) => Accepted {
                id: *id,
                state: *state,
                duplicate: false,
            },
            Outcome::Existing(found) => *found,
            Outcome::SameAs(j) => match &outcomes[*j] {
                Outcome::New(id, state) => Accepted {
                    id: *id,
                    state: *state,
                    duplicate: true,
                },
                Outcome::Existing(found) => *found,
                Outcome::SameAs(_) => unreachable!("a first occurrence is never SameAs"),
            },
        })
        .collect()
}

/// For each message, its outcome when its reference is already stored or came earlier in the
/// group; `None` for the messages to store.
async fn known_references(
    tx: &(impl GenericClient + Sync),
    messages: &[NewMessage],
) -> Result<Vec<Option<Outcome>>, StoreError> {
    let references: Vec<&str> = messages
        .iter()
        .filter_map(|m| m.reference.as_deref())
        .collect();
    let mut stored = HashMap::new();
    if !references.is_empty() {
        let rows = tx
            .query(&tx.prepared(LOOK_UP_REFERENCES).await?, &[&references])
            .await
            .map_err(|e| failed("accepting messages: looking up references", e))?;
        for row in rows {
            let reference: String = row.get(0);
            let id: i64 = row.get(1);
            let state: String = row.get(2);
            let state = state.parse::<State>().map_err(StoreError::Corrupt)?;
            stored.insert(reference, (MessageId(id as u64), state));
        }
    }
    let mut first_in_group: HashMap<&str, usize> = HashMap::new();
    let mut outcomes = Vec::with_capacity(messages.len());
    for (i, m) in messages.iter().enumerate() {
        let Some(reference) = m.reference.as_deref() else {
            outcomes.push(None);
            continue;
        };
        if let Some(&(id, state)) = stored.get(reference) {
            outcomes.push(Some(Outcome::Existing(Accepted {
                id,
                state,
                duplicate: true,
            })));
        } else if let Some(&j) = first_in_group.get(reference) {
            outcomes.push(Some(Outcome::SameAs(j)));
        } else {
            first_in_group.insert(reference, i);
            outcomes.push(None);
        }
    }
    Ok(outcomes)
}

/// New rows of `messages`, column by column, inserted with one statement.
#[derive(Default)]
struct Rows {
    id: Vec<i64>,
    reference: Vec<Option<String>>,
    kind: Vec<&'static str>,
    state: Vec<&'static str>,
    lane: Vec<i16>,
    next_try: Vec<i64>,
    deadline: Vec<Option<i64>>,
    finished_at: Vec<Option<i64>>,
    record: Vec<Vec<u8>>,
}

impl Rows {
    fn push(&mut self, message: &Message, now: Millis) -> Result<(), StoreError> {
        let finished = message.state.is_final();
        self.id.push(message.id.0 as i64);
        self.reference.push(message.reference.clone());
        self.kind.push(message.kind.as_str());
        self.state.push(message.state.as_str());
        self.lane.push(i16::from(message.kind.lane()));
        self.next_try.push(message.next_try);
        self.deadline.push(next_deadline(message));
        self.finished_at.push(finished.then_some(now));
        self.record.push(codec::encode_record(message)?);
        Ok(())
    }

    async fn insert(&self, tx: &(impl GenericClient + Sync)) -> Result<(), StoreError> {
        tx.execute(
&tx.prepared("INSERT INTO messages (id, reference, kind, state, lane, next_try, deadline, finished_at, record)
             SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::smallint[],
                                  $6::bigint[], $7::bigint[], $8::bigint[], $9::bytea[])").await?,
            &[
                &self.id,
                &self.reference,
                &self.kind,
                &self.state,
                &self.lane,
                &self.next_try,
                &self.deadline,
                &self.finished_at,
                &self.record,
            ],
        )
        .await
        .map_err(|e| failed("accepting messages: storing the messages", e))?;
        Ok(())
    }
}
