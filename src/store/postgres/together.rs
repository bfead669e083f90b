//! A group's changes and receipts in one transaction (see [`run_together`]): one message's
//! life is several changes, and at the rate of a bind's answers a commit each would bound the
//! cluster's rate.

use super::committer::Committer;
use super::life::{Leftover, change_in};
use super::ops::Op;
use super::receipts::{receipt_message, record_or_park_in};
use crate::message::{Message, MessageId};
use crate::store::error::StoreError;
use crate::store::reports::ReceiptLanding;
use std::collections::HashMap;

/// What one change or receipt of a group came to.
enum Done {
    Changed(Result<Box<Message>, StoreError>),
    Landed(Result<ReceiptLanding, StoreError>),
}

/// Runs the changes and receipts of one group in one transaction, so that one commit answers
/// them all (one message's life is several changes: at the rate of a bind's answers, a
/// commit each would bound the cluster's rate). An op the rules refuse is answered with its
/// error and the others go on (a refusal writes nothing); when the transaction fails as a
/// whole (a database error, a deadlock with another node, a lost connection), the ops come
/// back (`Err`) for the writer to run each in a transaction of its own; so do fewer than two.
pub async fn run_together(w: &mut Committer, ops: Vec<Op>) -> Result<(), Vec<Op>> {
    if ops.len() < 2 {
        return Err(ops);
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
        Err(e) => {
            tracing::debug!(error = %e, "a group of changes failed together; one at a time");
            Err(ops)
        }
    }
}

/// A refusal by the rules or of an unknown message: it comes before the op writes anything,
/// so the transaction goes on without it. Any other error may leave part of an op written.
fn refused_by_rules(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::Invalid(_) | StoreError::NotFound(_) | StoreError::WrongState { .. }
    )
}

/// The transaction of [`run_together`]: each op's outcome once committed, or the error that
/// failed it as a whole. The ops' statements are pipelined on the one connection: the ops of
/// one message run in turn, in the order they came, and those of different messages at once
/// (their round trips overlap; the server runs them in turn). A receipt whose part is not
/// known yet runs after the rest, so that a change of the group that gives its part an id is
/// seen and the receipt is applied, not parked.
async fn together(w: &mut Committer, ops: &[Op]) -> Result<Vec<Done>, StoreError> {
    let tx = super::committer::begin(&mut w.client, "changing messages").await?;
    let node = w.node.as_str();
    // the message each op changes: a change names it, a receipt's is looked up
    let lookups = ops.iter().map(|op| async {
        match op {
            Op::Change { id, .. } => Ok(Some(*id)),
            Op::Receipt {
                operator,
                candidates,
                ..
            } => receipt_message(&tx, operator, candidates).await,
            _ => unreachable!("only changes and receipts run together"),
        }
    });
    let targets = futures::future::try_join_all(lookups).await?;
    let mut chains: HashMap<MessageId, Vec<usize>> = HashMap::new();
    let mut unknown = Vec::new();
    for (i, target) in targets.into_iter().enumerate() {
        match target {
            Some(id) => chains.entry(id).or_default().push(i),
            None => unknown.push(i),
        }
    }
    let run_chain = |chain: Vec<usize>| {
        let tx = &tx;
        async move {
            let mut done = Vec::with_capacity(chain.len());
            for i in chain {
                done.push((i, one_of_group(tx, node, &ops[i]).await?));
            }
            Ok::<_, StoreError>(done)
        }
    };
    let mut outcomes: Vec<(usize, (Done, Option<Leftover>))> =
        futures::future::try_join_all(chains.into_values().map(run_chain))
            .await?
            .into_iter()
            .flatten()
            .collect();
    for i in unknown {
        outcomes.push((i, one_of_group(&tx, node, &ops[i]).await?));
    }
    // the group's events and counters at once, in the order the ops came
    outcomes.sort_by_key(|(i, _)| *i);
    let mut rest = Leftover::default();
    let mut done = Vec::with_capacity(outcomes.len());
    for (_, (outcome, left)) in outcomes {
        if let Some(left) = left {
            rest.absorb(left);
        }
        done.push(outcome);
    }
    rest.write(&tx, node).await?;
    tx.commit()
        .await
        .map_err(|e| super::failed("changing messages: committing", e))?;
    w.committed(&rest.counts);
    Ok(done)
}

/// One change or receipt of a group, inside `tx`: its outcome and what it left to write at the
/// group's end, or the error that fails the group (a refusal by the rules is an outcome).
async fn one_of_group(
    tx: &tokio_postgres::Transaction<'_>,
    node: &str,
    op: &Op,
) -> Result<(Done, Option<Leftover>), StoreError> {
    match op {
        Op::Change {
            id,
            change: what,
            now,
            ..
        } => match change_in(tx, node, *id, what.clone(), *now).await {
            Ok((message, deltas)) => Ok((Done::Changed(Ok(Box::new(message))), Some(deltas))),
            Err(refused) if refused_by_rules(&refused) => Ok((Done::Changed(Err(refused)), None)),
            Err(e) => Err(e),
        },
        Op::Receipt {
            operator,
            candidates,
            receipt,
            ..
        } => match record_or_park_in(tx, node, operator, candidates, receipt.clone()).await {
            Ok((landing, deltas)) => Ok((Done::Landed(Ok(landing)), deltas)),
            Err(refused) if refused_by_rules(&refused) => Ok((Done::Landed(Err(refused)), None)),
            Err(e) => Err(e),
        },
        _ => unreachable!("only changes and receipts run together"),
    }
}
