//! Submitting on a bind: `feed` takes jobs as the window has room, and each job's parts go
//! out in their own places in the window, paced by the operator's TPS cap, their results
//! reported together. A part the operator throttles is tried again on the same bind once it
//! has slowed down, so throttling never sends a message to the back of its lane.

use crate::message::{Kind, MessageId, Millis, now_ms};
use crate::number::mask;
use crate::sessions::job::{Job, JobOutcome, PartResult};
use crate::sessions::link::OperatorLink;
use crate::sessions::status_codes::{StatusClass, classify, describe, status_name};
use crate::sessions::window::{Slot, Window};
use futures::StreamExt;
use futures::stream::FuturesOrdered;
use rusmpp::pdus::SubmitSm;
use rusmppc::Client;
use rusmppc::error::Error as SmppError;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
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
    /// Cancelled when the session stops taking work: parts not yet on the wire stay unsent.
    pub(super) ending: CancellationToken,
}

/// How long one part may keep being retried on its bind while the operator says "slower"
/// (throttled, queue full) before it goes back to the queue.
const SLOW_DOWN_PATIENCE: Duration = Duration::from_secs(30);

/// What of a job its outcome carries back.
struct Done {
    id: MessageId,
    kind: Kind,
    place: Option<OwnedSemaphorePermit>,
    total_parts: u32,
    concat_ref: Option<u16>,
}

impl SubmitTask {
    pub(super) async fn run(self, first: Slot, job: Job) {
        let urgent = job.urgent();
        let Job {
            id,
            parts,
            total_parts,
            concat_ref,
            send_by,
            kind,
            place,
        } = job;
        let done = Done {
            id,
            kind,
            place,
            total_parts,
            concat_ref,
        };
        let late = || send_by.is_some_and(|send_by| now_ms() > send_by);
        let mut pending = FuturesOrdered::new();
        let mut slot = Some(first);
        let mut unsent = Vec::new();
        for (index, part) in parts {
            // an OTP must never arrive late: not after waiting for its place or its token
            let ready = async {
                if late() {
                    return None;
                }
                let this_slot = match slot.take() {
                    Some(s) => s,
                    None => self.window.acquire().await,
                };
                self.link.pace(1, urgent).await;
                (!late()).then_some(this_slot)
            };
            let ready = tokio::select! {
                biased;
                ready = ready => ready.ok_or("send_by passed"),
                _ = self.ending.cancelled() => Err("the session ended"),
            };
            // a session ending (an unbind, shutdown) puts no new part on the wire
            let this_slot = match ready {
                Ok(_) if self.ending.is_cancelled() => Err("the session ended"),
                other => other,
            };
            let this_slot = match this_slot {
                Ok(this_slot) => this_slot,
                Err(why) => {
                    unsent.push((index, PartResult::NotSent(why.into())));
                    continue;
                }
            };
            // Spawned so each part goes on the wire as soon as it has its token (no bursts).
            let sending = tokio::spawn(self.submit_part(this_slot, part, urgent, send_by));
            pending.push_back(async move {
                let result = sending
                    .await
                    .unwrap_or_else(|e| PartResult::Lost(format!("submit task failed: {e}")));
                (index, result)
            });
        }
        let mut results: Vec<(u32, PartResult)> = pending.collect().await;
        results.extend(unsent);
        debug!(operator = %self.link.name, %id, parts = results.len(), "job done");
        self.report(done, results).await;
    }

    /// Hands the results of a job's parts to the sending stage.
    async fn report(&self, done: Done, results: Vec<(u32, PartResult)>) {
        let outcome = JobOutcome {
            id: done.id,
            operator: self.link.name.clone(),
            kind: done.kind,
            place: done.place,
            total_parts: done.total_parts,
            concat_ref: done.concat_ref,
            results,
        };
        let _ = self.outcomes.send(outcome).await;
    }

    /// Submits one part in its place in the window. Throttled or queue full, the bind slows
    /// down (its window shrinks and pauses) and the part is tried again on it after the
    /// pause, ahead of newer work, paced like any submit, while `send_by` and
    /// [`SLOW_DOWN_PATIENCE`] allow.
    fn submit_part(
        &self,
        slot: Slot,
        part: SubmitSm,
        urgent: bool,
        send_by: Option<Millis>,
    ) -> impl Future<Output = PartResult> + Send + 'static {
        let client = self.client.clone();
        let window = self.window.clone();
        let link = self.link.clone();
        let hung = self.hung.clone();
        let ending = self.ending.clone();
        let to = mask(&part.destination_addr.to_string());
        async move {
            let health = &link.health;
            let give_up = Instant::now() + SLOW_DOWN_PATIENCE;
            let result = loop {
                match client.submit_sm(part.clone()).await {
                    Ok(resp) => {
                        window.on_accepted();
                        health.parts_accepted.fetch_add(1, Ordering::Relaxed);
                        health.rate.add(1);
                        break PartResult::Accepted(resp.message_id().to_string());
                    }
                    Err(SmppError::UnexpectedResponse { response }) => {
                        let status = response.status();
                        if classify(status) != StatusClass::SlowDown {
                            debug!(%to, status = %status_name(status), "submit refused");
                            break PartResult::Refused(status);
                        }
                        window.on_slow_down();
                        health.throttled.fetch_add(1, Ordering::Relaxed);
                        window.wait_pause().await;
                        let late = send_by.is_some_and(|send_by| now_ms() > send_by);
                        if late || Instant::now() >= give_up || ending.is_cancelled() {
                            break PartResult::Refused(status);
                        }
                        link.pace(1, urgent).await;
                    }
                    Err(SmppError::ResponseTimeout { .. }) => {
                        let _ =
                            hung.try_send("no submit_sm_resp within the response timeout".into());
                        health.unanswered.fetch_add(1, Ordering::Relaxed);
                        break PartResult::TimedOut;
                    }
                    Err(e) => {
                        health.unanswered.fetch_add(1, Ordering::Relaxed);
                        break PartResult::Lost(describe(&e));
                    }
                }
            };
            // The place is freed only after a timeout has been signalled, so a hung bind
            // takes no further submits.
            drop(slot);
            result
        }
    }
}
