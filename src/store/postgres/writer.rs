//! The cluster engine's writer: one task with its own connection that gathers what waits in
//! its inbox into one transaction (group commit), so that one commit, on two machines with a
//! synchronous standby, answers many callers.

use super::accept::accept_group;
use super::claim::claim;
use super::committer::Committer;
use super::deadlines::fire_due;
use super::life::change;
use super::receipts::record_or_park;
use super::retention;
use crate::message::{Message, MessageId, Millis, NewMessage, now_ms};
use crate::store::error::StoreError;
use crate::store::event::Event;
use crate::store::layout::codec::ParkedReceipt;
use crate::store::reports::{Accepted, Fired, ReceiptLanding, RetentionReport};
use crate::store::rules::Change;
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::Client;

/// What the writer is asked to do.
pub enum Op {
    /// Accept these messages; one answer each, in order.
    Accept {
        /// The messages.
        messages: Vec<NewMessage>,
        /// Where the answers go.
        reply: oneshot::Sender<Vec<Result<Accepted, StoreError>>>,
    },
    /// Claim up to `max` messages of `lane` due by `now`.
    Claim {
        /// The lane.
        lane: u8,
        /// The time they must be due by.
        now: Millis,
        /// The most to claim.
        max: usize,
        /// Where the claimed messages go.
        reply: oneshot::Sender<Result<Vec<Message>, StoreError>>,
    },
    /// Apply one change to one message.
    Change {
        /// The message.
        id: MessageId,
        /// The change.
        change: Change,
        /// When it happens.
        now: Millis,
        /// Where the message as it is now goes.
        reply: oneshot::Sender<Result<Message, StoreError>>,
    },
    /// Record a receipt on the part one of `candidates` names, or park it.
    Receipt {
        /// The operator that sent it.
        operator: String,
        /// The forms of its message id, the canonical one first.
        candidates: Vec<String>,
        /// The receipt.
        receipt: ParkedReceipt,
        /// Where the outcome goes.
        reply: oneshot::Sender<Result<ReceiptLanding, StoreError>>,
    },
    /// Fire the deadlines due by `now` of up to `limit` messages.
    Fire {
        /// The time.
        now: Millis,
        /// The most messages.
        limit: usize,
        /// What fired.
        reply: oneshot::Sender<Result<Fired, StoreError>>,
    },
    /// One retention pass over at most `limit` messages.
    Retention {
        /// The time.
        now: Millis,
        /// The most messages each of erasing and forgetting.
        limit: usize,
        /// What it did.
        reply: oneshot::Sender<Result<RetentionReport, StoreError>>,
    },
    /// Append an event to the log.
    AppendEvent {
        /// The event.
        event: Event,
        /// Its seq.
        reply: oneshot::Sender<Result<u64, StoreError>>,
    },
}

/// Runs until every [`super::PgStore`] is dropped: takes the first op waiting, then every
/// other one already waiting up to `max_group` messages; commits their accepts together, then
/// each claim and each change in a transaction of its own, in the order they came.
pub async fn run(mut w: Committer, mut inbox: mpsc::Receiver<Op>, max_group: usize) {
    while let Some(first) = inbox.recv().await {
        let mut group = vec![first];
        let mut messages = group_size(&group[0]);
        while messages < max_group {
            match inbox.try_recv() {
                Ok(op) => {
                    messages += group_size(&op);
                    group.push(op);
                }
                Err(_) => break,
            }
        }
        let (accepts, others): (Vec<Op>, Vec<Op>) = group
            .into_iter()
            .partition(|op| matches!(op, Op::Accept { .. }));
        if !accepts.is_empty() {
            accept_all(&mut w, accepts).await;
        }
        for op in others {
            match op {
                Op::Claim {
                    lane,
                    now,
                    max,
                    reply,
                } => {
                    let _ = reply.send(claim(&mut w, lane, now, max).await);
                }
                Op::Change {
                    id,
                    change: what,
                    now,
                    reply,
                } => {
                    let _ = reply.send(change(&mut w, id, what, now).await);
                }
                Op::Receipt {
                    operator,
                    candidates,
                    receipt,
                    reply,
                } => {
                    let landing = record_or_park(&mut w, &operator, &candidates, receipt).await;
                    let _ = reply.send(landing);
                }
                Op::Fire { now, limit, reply } => {
                    let _ = reply.send(fire_due(&mut w, now, limit).await);
                }
                Op::Retention { now, limit, reply } => {
                    let retention = w.retention;
                    let _ = reply.send(retention::run(&mut w, retention, now, limit).await);
                }
                Op::AppendEvent { event, reply } => {
                    let _ = reply.send(append_one(&mut w.client, event).await);
                }
                Op::Accept { .. } => {}
            }
        }
    }
}

fn group_size(op: &Op) -> usize {
    match op {
        Op::Accept { messages, .. } => messages.len(),
        _ => 1,
    }
}

/// Accepts every op's messages in one transaction and answers each op with its share.
async fn accept_all(w: &mut Committer, group: Vec<Op>) {
    let mut all = Vec::new();
    let mut replies = Vec::with_capacity(group.len());
    for op in group {
        if let Op::Accept { messages, reply } = op {
            replies.push((messages.len(), reply));
            all.extend(messages);
        }
    }
    let n = all.len();
    let answers: Vec<Result<Accepted, StoreError>> = match accept_group(w, all, now_ms()).await {
        Ok(accepted) => accepted.into_iter().map(Ok).collect(),
        Err(e) => {
            tracing::error!(error = %e, "the cluster store could not accept a group");
            (0..n).map(|_| Err(e.clone())).collect()
        }
    };
    let mut answers = answers.into_iter();
    for (count, reply) in replies {
        let _ = reply.send(answers.by_ref().take(count).collect());
    }
}

/// Appends one event in a transaction of its own; its seq.
async fn append_one(client: &mut Client, event: Event) -> Result<u64, StoreError> {
    let failed = |e| super::failed("appending an event", e);
    let tx = client.transaction().await.map_err(failed)?;
    let seq = super::events::append_events(&tx, std::slice::from_ref(&event)).await?;
    tx.commit().await.map_err(failed)?;
    Ok(seq)
}
