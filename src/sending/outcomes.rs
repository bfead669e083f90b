//! The binds' answers become state changes: every part accepted → `submitted` (and the
//! receipts stage hears of the operator ids); a permanent refusal → `rejected` with the
//! status name; throttled / queue full, or never written to the wire → back in the queue
//! shortly without counting an attempt; a system error, timeout or lost connection → retry
//! with backoff, or `failed` after too many attempts.

use crate::message::{Kind, now_ms};
use crate::metrics::Latencies;
use crate::receipts::text::normalize_operator_id;
use crate::requests::RequestRegistry;
use crate::scheduler::Scheduler;
use crate::sessions::status_codes::{StatusClass, classify, status_name};
use crate::sessions::{JobOutcome, PartResult};
use rand::Rng;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// How long a throttled or unsent message waits before its next turn (ms, jittered).
const LATER_MS: std::ops::Range<u64> = 300..1_000;

/// Operator ids of a message the operator acknowledged (for early receipts).
#[derive(Debug)]
pub struct Submitted {
    /// The operator.
    pub operator: Arc<str>,
    /// Normalised operator message ids of its parts.
    pub ids: Vec<String>,
}

/// What to do with a job's results.
enum Verdict {
    Submitted(Vec<String>),
    Reject(String),
    /// Failed on the wire (system error, timeout, lost connection): an attempt counts.
    Retry(String),
    /// The operator said "slower" or the job never reached the wire: no attempt counts.
    Later(String),
}

fn judge(results: &[PartResult]) -> Verdict {
    let mut ids = Vec::with_capacity(results.len());
    let (mut retry, mut later) = (None, None);
    for result in results {
        match result {
            PartResult::Accepted(id) => ids.push(normalize_operator_id(id)),
            PartResult::Refused(status) => match classify(*status) {
                StatusClass::Permanent => return Verdict::Reject(status_name(*status)),
                StatusClass::SlowDown => later = later.or(Some(status_name(*status))),
                _ => retry = retry.or(Some(status_name(*status))),
            },
            PartResult::TimedOut => retry = retry.or(Some("no submit_sm_resp in time".into())),
            PartResult::Lost(why) => retry = retry.or(Some(format!("connection lost: {why}"))),
            PartResult::NotSent(why) => later = later.or(Some(format!("not sent: {why}"))),
        }
    }
    match (retry, later) {
        (Some(why), _) => Verdict::Retry(why),
        (None, Some(why)) => Verdict::Later(why),
        (None, None) => Verdict::Submitted(ids),
    }
}

/// Applies every outcome until the binds are gone; each change runs concurrently so that
/// they share the store's flushes.
pub async fn run_outcomes(
    scheduler: Arc<Scheduler>,
    requests: Option<Arc<RequestRegistry>>,
    mut outcomes: mpsc::Receiver<JobOutcome>,
    submitted: mpsc::UnboundedSender<Submitted>,
    latencies: Latencies,
) {
    let mut tasks = JoinSet::new();
    while let Some(outcome) = outcomes.recv().await {
        while tasks.try_join_next().is_some() {}
        let scheduler = scheduler.clone();
        let submitted = submitted.clone();
        let requests = requests.clone();
        let latencies = latencies.clone();
        tasks.spawn(async move {
            apply(
                &scheduler,
                requests.as_ref(),
                outcome,
                &submitted,
                &latencies,
            )
            .await
        });
    }
    while tasks.join_next().await.is_some() {}
}

async fn apply(
    scheduler: &Scheduler,
    requests: Option<&Arc<RequestRegistry>>,
    outcome: JobOutcome,
    submitted: &mpsc::UnboundedSender<Submitted>,
    latencies: &Latencies,
) {
    let id = outcome.id;
    let now = now_ms();
    let result = match judge(&outcome.results) {
        Verdict::Submitted(ids) => {
            // a request's reply window opens before it shows as submitted, so that neither
            // a quick reply nor a crash in between can miss it
            if let Some(requests) = requests.filter(|_| outcome.kind == Kind::Request) {
                crate::requests::hooks::on_submitted(requests, scheduler.store(), id, now).await;
            }
            let result = scheduler
                .submitted(id, &outcome.operator, ids.clone(), now)
                .await;
            if let Ok(message) = &result {
                latencies.submitted(message, now);
                let _ = submitted.send(Submitted {
                    operator: outcome.operator.clone(),
                    ids,
                });
            }
            result
        }
        Verdict::Reject(reason) => {
            tracing::warn!(%id, operator = %outcome.operator, %reason, "refused by the operator; rejected");
            scheduler.reject(id, &reason, now).await
        }
        Verdict::Retry(reason) => {
            tracing::debug!(%id, operator = %outcome.operator, %reason, "will retry");
            scheduler.retry(id, &reason, now).await
        }
        Verdict::Later(reason) => {
            tracing::debug!(%id, operator = %outcome.operator, %reason, "handed back");
            let pause = std::time::Duration::from_millis(rand::rng().random_range(LATER_MS));
            scheduler.later(id, &reason, pause, now).await
        }
    };
    if let Err(e) = result {
        tracing::error!(%id, error = %e, "cannot record the operator's answer");
    }
}
