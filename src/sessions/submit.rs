//! Submitting on a bind: `feed` takes jobs as the window has room, and each job's parts go
//! out in their own places in the window, paced by the operator's TPS cap, their results
//! reported together.

use super::bind::describe;
use crate::message::{Kind, MessageId, now_ms};
use crate::number::mask;
use crate::sessions::job::{Job, JobOutcome, PartResult};
use crate::sessions::link::OperatorLink;
use crate::sessions::status_codes::{StatusClass, classify, status_name};
use crate::sessions::window::{Slot, Window};
use futures::StreamExt;
use futures::stream::FuturesOrdered;
use rusmpp::pdus::SubmitSm;
use rusmppc::Client;
use rusmppc::error::Error as SmppError;
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tracing::debug;

/// Takes the operator's jobs for one bind as places in its window come free, each sent by a
/// copy of `task` of its own; runs until aborted when the session ends.
pub(super) async fn feed(task: SubmitTask) {
    loop {
        let mut slot = task.window.reserve().await;
        let job = task.link.next_job().await;
        slot.count();
        tokio::spawn(task.clone().run(slot, job));
    }
}

/// Sends one job's parts, each in its own place in the window, and reports the results.
#[derive(Clone)]
pub(super) struct SubmitTask {
    pub(super) link: Arc<OperatorLink>,
    pub(super) client: Client,
    pub(super) window: Arc<Window>,
    pub(super) outcomes: mpsc::Sender<JobOutcome>,
    pub(super) hung: mpsc::Sender<String>,
}

/// What of a job its outcome carries back.
struct Done {
    id: MessageId,
    kind: Kind,
    place: Option<OwnedSemaphorePermit>,
}

impl SubmitTask {
    pub(super) async fn run(self, first: Slot, job: Job) {
        let urgent = job.urgent();
        let Job {
            id,
            parts,
            send_by,
            kind,
            place,
        } = job;
        let done = Done { id, kind, place };
        if send_by.is_some_and(|send_by| now_ms() > send_by) {
            // It waited for a place too long: an OTP must never arrive late.
            let results = parts
                .iter()
                .map(|_| PartResult::NotSent("send_by passed".into()))
                .collect();
            self.report(done, results).await;
            return;
        }
        let mut pending = FuturesOrdered::new();
        let mut slot = Some(first);
        for part in parts {
            let this_slot = match slot.take() {
                Some(s) => s,
                None => self.window.acquire().await,
            };
            self.link.pace(1, urgent).await;
            // Spawned so each part goes on the wire as soon as it has its token (no bursts).
            pending.push_back(tokio::spawn(self.submit_part(this_slot, part)));
        }
        let results: Vec<PartResult> = pending
            .map(|joined| {
                joined.unwrap_or_else(|e| PartResult::Lost(format!("submit task failed: {e}")))
            })
            .collect()
            .await;
        debug!(operator = %self.link.name, %id, parts = results.len(), "job done");
        self.report(done, results).await;
    }

    /// Hands the results of a job's parts to the sending stage.
    async fn report(&self, done: Done, results: Vec<PartResult>) {
        let outcome = JobOutcome {
            id: done.id,
            operator: self.link.name.clone(),
            kind: done.kind,
            place: done.place,
            results,
        };
        let _ = self.outcomes.send(outcome).await;
    }

    fn submit_part(
        &self,
        slot: Slot,
        part: SubmitSm,
    ) -> impl Future<Output = PartResult> + Send + 'static {
        let client = self.client.clone();
        let window = self.window.clone();
        let health = self.link.health.clone();
        let hung = self.hung.clone();
        let to = mask(&part.destination_addr.to_string());
        async move {
            let result = client.submit_sm(part).await;
            // The place is freed only after a timeout has been signalled, so a hung bind
            // takes no further submits.
            let result = match result {
                Ok(resp) => {
                    window.on_accepted();
                    health
                        .parts_accepted
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    health.rate.add(1);
                    PartResult::Accepted(resp.message_id().to_string())
                }
                Err(SmppError::UnexpectedResponse { response }) => {
                    let status = response.status();
                    if classify(status) == StatusClass::SlowDown {
                        window.on_slow_down();
                        health
                            .throttled
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    } else {
                        debug!(%to, status = %status_name(status), "submit refused");
                    }
                    PartResult::Refused(status)
                }
                Err(SmppError::ResponseTimeout { .. }) => {
                    let _ = hung.try_send("no submit_sm_resp within the response timeout".into());
                    PartResult::TimedOut
                }
                Err(e) => PartResult::Lost(describe(&e)),
            };
            drop(slot);
            result
        }
    }
}
