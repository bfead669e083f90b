//! The binds' answers become state changes. Parts the operator accepted keep their ids (and
//! once every part has one, the message is `submitted`); only the rest of a message is ever
//! sent again. For those: a permanent refusal → `rejected` with the status name; throttled /
//! queue full (after the bind's own retries), or never written to the wire → back in the
//! queue shortly without counting an attempt; a system error, timeout or lost connection →
//! retry with backoff, or `failed` after too many attempts.

use crate::log_gate::{Repeated, note};
use crate::message::{Kind, Message, State, now_ms};
use crate::metrics::Latencies;
use crate::operator_id::normalize_operator_id;
use crate::requests::RequestRegistry;
use crate::scheduler::Scheduler;
use crate::sessions::status_codes::{StatusClass, classify, status_name};
use crate::sessions::{JobOutcome, PartResult};
use crate::store::receipt_outcome;
use rand::Rng;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// How long a throttled or unsent message waits before its next turn (ms, jittered).
const LATER_MS: std::ops::Range<u64> = 300..1_000;

const REJECTED: Repeated = Repeated::warn("refused by the operator; rejected");

/// What to do with the parts the operator did not accept.
enum Verdict {
    Reject(String),
    /// Failed on the wire (system error, timeout, lost connection): an attempt counts.
    Retry(String),
    /// The operator said "slower" or the part never reached the wire: no attempt counts.
    Later(String),
}

/// The verdict on the parts not accepted (None: every part sent was accepted).
fn judge<'a>(unaccepted: impl IntoIterator<Item = &'a PartResult>) -> Option<Verdict> {
    let (mut retry, mut later) = (None, None);
    for result in unaccepted {
        match result {
            PartResult::Accepted(_) => {}
            PartResult::Refused(status) => match classify(*status) {
                StatusClass::Permanent => return Some(Verdict::Reject(status_name(*status))),
                StatusClass::SlowDown => later = later.or(Some(status_name(*status))),
                _ => retry = retry.or(Some(status_name(*status))),
            },
            PartResult::TimedOut => retry = retry.or(Some("no submit_sm_resp in time".into())),
            PartResult::Lost(why) => retry = retry.or(Some(format!("connection lost: {why}"))),
            PartResult::NotSent(why) => later = later.or(Some(format!("not sent: {why}"))),
        }
    }
    match (retry, later) {
        (Some(why), _) => Some(Verdict::Retry(why)),
        (None, Some(why)) => Some(Verdict::Later(why)),
        (None, None) => None,
    }
}

/// Applies every outcome until the binds are gone; each change runs concurrently so that
/// they share the store's flushes.
pub async fn run_outcomes(
    scheduler: Arc<Scheduler>,
    requests: Option<Arc<RequestRegistry>>,
    mut outcomes: mpsc::Receiver<JobOutcome>,
    latencies: Latencies,
) {
    let mut tasks = JoinSet::new();
    while let Some(outcome) = outcomes.recv().await {
        while tasks.try_join_next().is_some() {}
        let scheduler = scheduler.clone();
        let requests = requests.clone();
        let latencies = latencies.clone();
        tasks.spawn(async move { apply(&scheduler, requests.as_ref(), outcome, &latencies).await });
    }
    while tasks.join_next().await.is_some() {}
}

async fn apply(
    scheduler: &Scheduler,
    requests: Option<&Arc<RequestRegistry>>,
    outcome: JobOutcome,
    latencies: &Latencies,
) {
    let id = outcome.id;
    let now = now_ms();
    let accepted: Vec<(u32, String)> = (outcome.results.iter())
        .filter_map(|(part, result)| match result {
            PartResult::Accepted(op_id) => Some((*part, normalize_operator_id(op_id))),
            _ => None,
        })
        .collect();
    let verdict = judge(outcome.results.iter().map(|(_, result)| result));
    if !accepted.is_empty() || verdict.is_none() {
        // a request's reply window opens before it shows as submitted, so that neither a
        // quick reply nor a crash in between can miss it
        if verdict.is_none()
            && let Some(requests) = requests.filter(|_| outcome.kind == Kind::Request)
        {
            crate::requests::hooks::on_submitted(requests, scheduler.store(), id, now).await;
        }
        let just_accepted: Vec<u32> = accepted.iter().map(|(part, _)| *part).collect();
        let result = scheduler
            .accepted(
                id,
                &outcome.operator,
                outcome.total_parts,
                accepted,
                outcome.concat_ref,
                now,
            )
            .await;
        match result {
            Ok(message) => on_accepted(&message, &just_accepted, requests, latencies, now).await,
            Err(e) => {
                tracing::error!(%id, error = %e, "cannot record the operator's answer");
                return;
            }
        }
    }
    let result = match verdict {
        None => return,
        Some(Verdict::Reject(reason)) => {
            let operator = &outcome.operator;
            note(
                &REJECTED,
                || tracing::warn!(%id, %operator, %reason, "{}", REJECTED.what),
            );
            scheduler.reject(id, &reason, now).await
        }
        Some(Verdict::Retry(reason)) => {
            tracing::debug!(%id, operator = %outcome.operator, %reason, "will retry");
            scheduler.retry(id, &reason, now).await
        }
        Some(Verdict::Later(reason)) => {
            tracing::debug!(%id, operator = %outcome.operator, %reason, "handed back");
            let pause = std::time::Duration::from_millis(rand::rng().random_range(LATER_MS));
            scheduler.later(id, &reason, pause, now).await
        }
    };
    if let Err(e) = result {
        tracing::error!(%id, error = %e, "cannot record the operator's answer");
    }
}

/// After parts were recorded: the submit latency once `submitted`, and what receipts that had
/// come early (parked) mean: the parts just accepted can only have a receipt that way.
async fn on_accepted(
    message: &Message,
    just_accepted: &[u32],
    requests: Option<&Arc<RequestRegistry>>,
    latencies: &Latencies,
    now: crate::message::Millis,
) {
    if message.state == State::Submitted || message.state.is_final() {
        latencies.submitted(message, now);
    }
    let delivered = just_accepted.iter().any(|part| {
        let receipt = message
            .parts
            .get(*part as usize)
            .and_then(|p| p.receipt.as_deref());
        receipt.and_then(receipt_outcome) == Some(State::Delivered)
    });
    if delivered {
        latencies.receipt(message, now);
        if let Some(requests) = requests {
            crate::requests::hooks::on_delivered(requests, message, now).await;
        }
    }
}
