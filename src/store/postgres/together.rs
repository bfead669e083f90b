//! A group's changes and receipts in one transaction (see [`run_together`]): one message's
//! life is several changes, and at the rate of a bind's answers a commit each, or a statement
//! each, would bound the cluster's rate.

use super::committer::Committer;
use super::failed;
use super::life::Staging;
use super::ops::Op;
use super::prepared::Prepare;
use super::receipts::{OperatorKey, part_named, read_parked, read_parts};
use crate::message::{Message, MessageId};
use crate::operator_id::id_candidates;
use crate::store::error::StoreError;
use crate::store::layout::codec::{self, ParkedReceipt};
use crate::store::reports::ReceiptLanding;
use crate::store::rules::{self, Change};
use std::collections::HashMap;

/// What one change or receipt of a group came to.
enum Done {
    Changed(Result<Box<Message>, StoreError>),
    Landed(Result<ReceiptLanding, StoreError>),
}

/// Runs changes and receipts (any other op is a caller's bug) in one transaction, so that
/// one commit answers them all, and answers each. An op the rules refuse is answered with
/// its error and the others go on (a refusal stages nothing); when the transaction fails as
/// a whole (a database error, a deadlock with another node, a lost connection), the ops come
/// back unanswered with the error, for the writer to run again or answer.
pub async fn run_together(w: &mut Committer, ops: Vec<Op>) -> Result<(), (Vec<Op>, StoreError)> {
    if ops.is_empty() {
        return Ok(());
    }
    match together(w, &ops).await {
        Ok(done) => {
            for (op, done) in ops.into_iter().zip(done) {
                match (op, done) {
                    (Op::Change { reply, .. }, Done::Changed(result)) => {
                        let _ = reply.send(result.map(|message| *message));
                    }
                    (Op::Receipt { reply, .. }, Done::Landed(result)) => {
                        let _ = reply.send(result);
                    }
                    _ => unreachable!("answers follow their ops"),
                }
            }
            Ok(())
        }
        Err(e) => Err((ops, e)),
    }
}

/// Answers every op of `ops` (changes and receipts) with `e`.
pub fn answer_failed(ops: Vec<Op>, e: &StoreError) {
    for op in ops {
        match op {
            Op::Change { reply, .. } => {
                let _ = reply.send(Err(e.clone()));
            }
            Op::Receipt { reply, .. } => {
                let _ = reply.send(Err(e.clone()));
            }
            _ => unreachable!("only changes and receipts run together"),
        }
    }
}

/// A refusal by the rules or of an unknown message: it comes before the rules stage
/// anything, so the group goes on without it.
fn refused_by_rules(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::Invalid(_) | StoreError::NotFound(_) | StoreError::WrongState { .. }
    )
}

/// The transaction of [`run_together`]: each op's outcome once committed, or the error that
/// failed it as a whole. A few statements whatever the group's size: the parts the
/// receipts name, the messages the group changes (locked, in id order so that two nodes'
/// groups never wait on each other in a circle), the receipts parked for the ids the
/// submit results give; then the rules run on the records in memory, in the order the ops
/// came, and [`Staging`] writes what they changed, one statement per table. A receipt whose
/// part no id names yet is looked at again after every change (one of the group's may give
/// that id), and parked if still none does.
async fn together(w: &mut Committer, ops: &[Op]) -> Result<Vec<Done>, StoreError> {
    let tx = super::committer::begin(&mut w.client, "changing messages").await?;
    let named = named_by_receipts(ops);
    let given = given_by_submit_results(ops);
    // the parts, then their messages; the parked receipts meanwhile
    let parts_and_messages = async {
        let known = read_parts(&tx, &named).await?;
        let mut ids: Vec<i64> = ops
            .iter()
            .filter_map(|op| match op {
                Op::Change { id, .. } => Some(id.0 as i64),
                _ => None,
            })
            .chain(known.values().map(|(id, _)| id.0 as i64))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let messages = lock_messages(&tx, &ids).await?;
        Ok::<_, StoreError>((known, messages))
    };
    let ((known, mut messages), parked) =
        futures::future::try_join(parts_and_messages, read_parked(&tx, &given)).await?;
    let mut staging = Staging::with_parked(parked);

    let mut done: Vec<Option<Done>> = ops.iter().map(|_| None).collect();
    let mut unmatched = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        match op {
            Op::Change {
                id,
                change: what,
                now,
                ..
            } => {
                staging.at(*now);
                let changed = change(&mut staging, &mut messages, *id, what.clone(), *now)?;
                done[i] = Some(Done::Changed(changed));
            }
            Op::Receipt { .. } => match receipt(&mut staging, &mut messages, &known, op)? {
                Some(landed) => done[i] = Some(Done::Landed(landed)),
                None => unmatched.push(i),
            },
            _ => unreachable!("only changes and receipts run together"),
        }
    }
    for i in unmatched {
        let landed = match receipt(&mut staging, &mut messages, &known, &ops[i])? {
            Some(landed) => landed,
            None => Ok(park(&mut staging, &ops[i])),
        };
        done[i] = Some(Done::Landed(landed));
    }

    // every record staged carries its change's time; `now` is for none
    let rest = staging
        .write_rows(&tx, &w.node, crate::message::now_ms())
        .await?;
    rest.write(&tx, &w.node, w.writer).await?;
    tx.commit()
        .await
        .map_err(|e| failed("changing messages: committing", e))?;
    w.committed(&rest.counts);
    Ok(done
        .into_iter()
        .map(|d| d.expect("every op has its outcome"))
        .collect())
}

/// Every form of the operator ids the group's receipts name.
fn named_by_receipts(ops: &[Op]) -> Vec<OperatorKey> {
    ops.iter()
        .filter_map(|op| match op {
            Op::Receipt {
                operator,
                candidates,
                ..
            } => Some(
                candidates
                    .iter()
                    .map(move |c| (operator.clone(), c.clone())),
            ),
            _ => None,
        })
        .flatten()
        .collect()
}

/// Every form of the operator ids the group's submit results give (the receipts parked under
/// any of them are applied).
fn given_by_submit_results(ops: &[Op]) -> Vec<OperatorKey> {
    ops.iter()
        .filter_map(|op| match op {
            Op::Change {
                change:
                    Change::Accepted {
                        operator, accepted, ..
                    },
                ..
            } => Some(accepted.iter().flat_map(move |(_, operator_id)| {
                id_candidates(operator_id)
                    .into_iter()
                    .map(move |c| (operator.clone(), c))
            })),
            _ => None,
        })
        .flatten()
        .collect()
}

/// The records of messages `ids` (sorted), locked until the transaction ends.
async fn lock_messages(
    tx: &tokio_postgres::Transaction<'_>,
    ids: &[i64],
) -> Result<HashMap<MessageId, Message>, StoreError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = tx
        .query(
            &tx.prepared("SELECT record FROM messages WHERE id = ANY($1) ORDER BY id FOR UPDATE")
                .await?,
            &[&ids],
        )
        .await
        .map_err(|e| failed("changing messages: reading them", e))?;
    let mut messages = HashMap::with_capacity(rows.len());
    for row in rows {
        let message = codec::decode_record(row.get(0))?;
        messages.insert(message.id, message);
    }
    Ok(messages)
}

/// Applies one change to message `id`, in memory: the message as it now is, or the rules'
/// refusal (nothing staged then); a database or encoding error fails the group.
fn change(
    staging: &mut Staging,
    messages: &mut HashMap<MessageId, Message>,
    id: MessageId,
    what: Change,
    now: crate::message::Millis,
) -> Result<Result<Box<Message>, StoreError>, StoreError> {
    let Some(message) = messages.get_mut(&id) else {
        return Ok(Err(StoreError::NotFound(id)));
    };
    let mut changed = message.clone();
    match rules::apply_change(staging, &mut changed, what, now) {
        Ok(()) => {
            *message = changed.clone();
            Ok(Ok(Box::new(changed)))
        }
        Err(refused) if refused_by_rules(&refused) => Ok(Err(refused)),
        Err(e) => Err(e),
    }
}

/// Records the receipt `op` on the part it names, in memory, when a part has its id yet
/// (`None` otherwise): where it landed, or the rules' refusal.
fn receipt(
    staging: &mut Staging,
    messages: &mut HashMap<MessageId, Message>,
    known: &HashMap<OperatorKey, (MessageId, u32)>,
    op: &Op,
) -> Result<Option<Result<ReceiptLanding, StoreError>>, StoreError> {
    let (operator, candidates, receipt) = receipt_of(op);
    if candidates.is_empty() {
        let blank = StoreError::Invalid("a receipt without a message id".into());
        return Ok(Some(Err(blank)));
    }
    let Some((id, part)) = part_named(staging, known, operator, candidates) else {
        return Ok(None);
    };
    let Some(message) = messages.get_mut(&id) else {
        return Ok(None); // forgotten by retention since: as if no part had the id
    };
    let mut changed = message.clone();
    staging.at(receipt.at);
    let r = receipt.clone();
    match rules::receipt(staging, &mut changed, part, r.stat, r.error, r.at) {
        Ok(()) => {
            *message = changed.clone();
            Ok(Some(Ok(ReceiptLanding::Recorded {
                message: Box::new(changed),
                part,
            })))
        }
        Err(refused) if refused_by_rules(&refused) => Ok(Some(Err(refused))),
        Err(e) => Err(e),
    }
}

/// Parks the receipt `op` under the first of its candidates (a repeated receipt replaces the
/// one parked).
fn park(staging: &mut Staging, op: &Op) -> ReceiptLanding {
    let (operator, candidates, receipt) = receipt_of(op);
    staging.park(operator, &candidates[0], receipt.clone());
    ReceiptLanding::Parked
}

/// A receipt op's operator, the forms of its message id and the receipt.
fn receipt_of(op: &Op) -> (&str, &[String], &ParkedReceipt) {
    match op {
        Op::Receipt {
            operator,
            candidates,
            receipt,
            ..
        } => (operator, candidates, receipt),
        _ => unreachable!("a receipt"),
    }
}
