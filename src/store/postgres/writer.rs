//! The cluster engine's writer: one task with its own connection that gathers what waits in
//! its inbox into one transaction (group commit), so that one commit, on two machines with a
//! synchronous standby, answers many callers. A node runs two: the writer proper, and the
//! claimer, which only claims (see [`super::committer::CLAIMER`]), so that a claim never waits
//! behind a group of changes and the two commits overlap.

use super::accept::accept_group;
use super::claim::claim;
use super::committer::Committer;
use super::connect::{connect, retry_pause};
use super::deadlines::fire_due;
use super::leases;
pub use super::ops::Op;
use super::recover::requeue_unsure;
use super::retention;
use super::together::{answer_failed, run_together};
use crate::message::now_ms;
use crate::store::error::StoreError;
use crate::store::event::Event;
use crate::store::reports::Accepted;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_postgres::Client;

/// How long the writer keeps trying to connect again before it answers the ops waiting with
/// the error (it tries again for the next ones).
const RECONNECT_PATIENCE: Duration = Duration::from_secs(15);

/// Runs until every [`super::PgStore`] is dropped: takes the first op waiting, then every
/// other one already waiting up to `max_group` messages; commits their accepts together, then
/// each claim (and each other op) in a transaction of its own, then their changes and
/// receipts together (see [`run_together`]; one at a time if that fails).
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
        if w.client.is_closed() {
            // lost while idle: the accepts below would fail at once
            let _ = reconnect(&mut w).await;
        }
        if !accepts.is_empty() {
            accept_all(&mut w, accepts).await;
        }
        let (together, alone): (Vec<Op>, Vec<Op>) = others
            .into_iter()
            .partition(|op| matches!(op, Op::Change { .. } | Op::Receipt { .. }));
        for op in alone {
            run_one(&mut w, op).await;
        }
        match run_together(&mut w, together).await {
            Ok(()) => {}
            Err((ops, e)) if ops.len() == 1 => again_if_lost(&mut w, ops, e).await,
            Err((ops, e)) => {
                tracing::debug!(error = %e, "a group of changes failed together; one at a time");
                for op in ops {
                    if let Err((ops, e)) = run_together(&mut w, vec![op]).await {
                        again_if_lost(&mut w, ops, e).await;
                    }
                }
            }
        }
    }
}

/// Evaluates `work` (an expression on the writer `w`); when it failed because the connection
/// was lost, connects again (see [`reconnect`]) and evaluates it once more. A macro, not a
/// function over an async closure: such closures borrowing the writer are not yet `Send` for
/// the task to spawn.
macro_rules! again_if_lost {
    ($w:ident, $work:expr) => {
        match $work {
            Err(e) if $w.client.is_closed() => match reconnect($w).await {
                Ok(()) => $work,
                Err(_) => Err(e),
            },
            done => done,
        }
    };
}

/// Runs one op other than an accept in its own transaction and answers it. When the
/// connection was lost under it, the op runs once more on a new connection: a change whose
/// commit had landed is then refused by the rules (the message moved on) and the caller reads
/// that error, never a second application.
async fn run_one(w: &mut Committer, op: Op) {
    match op {
        Op::Claim {
            lane,
            now,
            max,
            reply,
        } => {
            let claimed = again_if_lost!(w, claim(w, lane, now, max).await);
            let _ = reply.send(claimed);
        }
        Op::Fire { now, limit, reply } => {
            let fired = again_if_lost!(w, fire_due(w, now, limit).await);
            let _ = reply.send(fired);
        }
        Op::Retention { now, limit, reply } => {
            let done = again_if_lost!(w, retention::run(w, w.retention, now, limit).await);
            let _ = reply.send(done);
        }
        Op::AppendEvent { event, reply } => {
            let seq = again_if_lost!(w, append_one(&mut w.client, event.clone()).await);
            let _ = reply.send(seq);
        }
        Op::RequeueGone { nodes, reply } => {
            let requeued = again_if_lost!(w, leases::requeue_gone(w, &nodes, now_ms()).await);
            let _ = reply.send(requeued);
        }
        Op::ReleaseLeases { reply } => {
            let _ = reply.send(again_if_lost!(w, leases::release(w).await));
        }
        Op::Accept { .. } | Op::Change { .. } | Op::Receipt { .. } => {}
    }
}

/// Changes or receipts whose transaction failed with `e`: when the connection was lost,
/// they run once more on a new one (a change whose commit had landed is then refused by the
/// rules, the message having moved on, and the caller reads that error, never a second
/// application; a receipt recorded twice changes nothing); otherwise, or failing again,
/// they are answered with the error.
async fn again_if_lost(w: &mut Committer, ops: Vec<Op>, e: StoreError) {
    if !w.client.is_closed() || reconnect(w).await.is_err() {
        return answer_failed(ops, &e);
    }
    if let Err((ops, e)) = run_together(w, ops).await {
        answer_failed(ops, &e);
    }
}

/// Connects again after the writer's connection was lost, trying with pauses for at most
/// [`RECONNECT_PATIENCE`]: the callers wait meanwhile (a failover takes seconds) and get the
/// error after it. On the new connection, the claims whose commit went unanswered are undone
/// (see [`Committer::unsure`]).
async fn reconnect(w: &mut Committer) -> Result<(), StoreError> {
    let since = std::time::Instant::now();
    let mut attempt = 0;
    loop {
        match connect(&w.config).await {
            Ok(client) => {
                w.client = client;
                super::prepared::forget();
                tracing::info!(host = %w.config.host, "reconnected to the database (writes)");
                let unsure = std::mem::take(&mut w.unsure);
                if !unsure.is_empty() {
                    let n = requeue_unsure(w, &unsure, now_ms()).await?;
                    tracing::info!(
                        requeued = n,
                        "claims the lost connection left unanswered are back in the queue"
                    );
                }
                return Ok(());
            }
            Err(e) if since.elapsed() >= RECONNECT_PATIENCE => return Err(e),
            Err(e) => {
                tracing::warn!(error = %e, "the database is out of reach; trying again");
                tokio::time::sleep(retry_pause(attempt)).await;
                attempt += 1;
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
    w.commit_sent = false;
    let mut accepted = accept_group(w, all.clone(), now_ms()).await;
    if accepted.is_err() && w.client.is_closed() && !w.commit_sent && reconnect(w).await.is_ok() {
        // lost before the commit was sent: nothing of the group landed, so it runs again
        accepted = accept_group(w, all, now_ms()).await;
    }
    let answers: Vec<Result<Accepted, StoreError>> = match accepted {
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
