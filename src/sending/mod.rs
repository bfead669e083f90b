//! The sending stage: takes the next due message from the scheduler, picks the operator for
//! its number (falling back when a route is down), paces each recipient, builds the parts and
//! hands them to that operator's binds; then turns the binds' answers into state changes.

pub mod concat;
pub mod limits;
mod otp_gate;
pub mod outcomes;
pub mod pdu;

pub use concat::ConcatRefs;
pub use limits::RecipientLimits;
pub use outcomes::run_outcomes;

use otp_gate::Gate;

use crate::encoding::EncodingConfig;
use crate::log_gate::{Repeated, note};
use crate::message::{Kind, Message, Millis, millis, now_ms};
use crate::number::Msisdn;
use crate::otp::{OtpService, is_sealed};
use crate::router::Router;
use crate::scheduler::Scheduler;
use crate::sessions::{Job, OperatorHandle};
use crate::store::AcceptedOtps;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

/// A message that cannot be put on the wire (it is rejected).
const UNBUILDABLE: Repeated = Repeated::warn("cannot build the SMS; rejected");

/// How long a message waits when no operator for its number is up.
const NO_OPERATOR_WAIT: Duration = Duration::from_secs(1);

/// How long an OTP waits when its session cannot be read.
const OTP_READ_WAIT: Duration = Duration::from_secs(1);

/// Most OTPs the OTP loop claims in one trip to the store.
const OTP_BATCH: usize = 16;

/// In-flight places per place in the operators' windows (see [`Dispatcher::run`]).
const PLACES_PER_WINDOW_SLOT: usize = 2;

/// Most messages of the main loop that may be claimed and not yet have their outcome
/// recorded, for operators with `window_slots` (Σ binds × window) and a `claim_batch`.
/// Also the most a SIGKILL can make the daemon send twice (only such messages are resent).
pub fn in_flight_bound(window_slots: usize, claim_batch: usize) -> usize {
    window_slots * PLACES_PER_WINDOW_SLOT + claim_batch.max(1)
}

/// The lanes of the main loop: everything but OTPs.
const MAIN_LANES: [Kind; 3] = [Kind::Request, Kind::Notification, Kind::Bulk];

/// Everything the dispatcher needs.
pub struct Dispatcher {
    /// Where due messages come from.
    pub scheduler: Arc<Scheduler>,
    /// Number → operators, in preference order.
    pub router: Arc<Router>,
    /// Every operator's job queue and health.
    pub operators: BTreeMap<String, OperatorHandle>,
    /// Alphabet and part limits.
    pub encoding: EncodingConfig,
    /// Per-recipient pacing.
    pub limits: RecipientLimits,
    /// Woken by every accept so a new OTP does not wait for the idle poll.
    pub wake: Arc<Notify>,
    /// Sleep between looks when nothing is due.
    pub idle_poll: Duration,
    /// Most messages of the main loop claimed in one trip to the store.
    pub batch: usize,
    /// Opens sealed OTP texts just before they are sent.
    pub otp: Option<Arc<OtpService>>,
    /// OTPs the store claimed as it accepted them (`Store::take_otps_at_accept`).
    pub accepted_otps: Option<AcceptedOtps>,
    /// Concatenation references of long messages.
    pub concat_refs: ConcatRefs,
}

impl Dispatcher {
    /// Runs until `shutdown`: two claim loops put due messages on operator queues. OTPs have
    /// their own loop, so they never wait behind a batch of other kinds that is waiting for
    /// room in an operator's queue; the main loop serves the other lanes in batches. OTPs the
    /// store claimed at acceptance skip the loops.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let accepted = self.accepted_otps.take();
        // with the store claiming OTPs at acceptance, their loop only finds retries and
        // deferrals (at its idle poll): an accept need not send it on a trip for nothing
        let wake_otp_loop = accepted.is_none();
        let otp_wake = Notify::new();
        let main_wake = Notify::new();
        // one accept wakes both loops (a Notify keeps one permit per waiter it is given)
        let fan_out = async {
            loop {
                tokio::select! {
                    _ = self.wake.notified() => {
                        if wake_otp_loop {
                            otp_wake.notify_one();
                        }
                        main_wake.notify_one();
                    }
                    _ = shutdown.cancelled() => break,
                }
            }
        };
        // The main loop claims only while fewer than this many of its messages wait for their
        // outcome to be recorded: claims go ahead of everything else in the store, and without
        // a bound the binds outrun the store's recording of their results, which then waits
        // behind ever more of them (and so do accepts); after a crash every such message is
        // sent again. OTPs are not bounded.
        let slots: usize = (self.operators.values())
            .map(|op| op.config.binds as usize * op.config.window as usize)
            .sum();
        let batch = self.batch.max(1);
        let places = Arc::new(Semaphore::new(in_flight_bound(slots, batch)));
        let otp = self.claim_loop(&[Kind::Otp], OTP_BATCH, None, &otp_wake, &shutdown);
        let main = self.claim_loop(&MAIN_LANES, batch, Some(places), &main_wake, &shutdown);
        let direct = self.send_accepted_otps(accepted, &shutdown);
        tokio::join!(fan_out, otp, main, direct);
    }

    /// Sends the OTPs the store claimed as it accepted them; at shutdown, hands back those
    /// not yet sent (once it stops listening the store leaves new ones to the claim loop).
    async fn send_accepted_otps(
        &self,
        accepted: Option<AcceptedOtps>,
        shutdown: &CancellationToken,
    ) {
        let Some(mut accepted) = accepted else {
            return;
        };
        loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                message = accepted.recv() => match message {
                    Some(message) => self.dispatch(message, None).await,
                    None => break,
                },
            }
        }
        accepted.close();
        while let Ok(message) = accepted.try_recv() {
            self.hand_back(&message, now_ms(), Duration::ZERO, "shutting down")
                .await;
        }
    }

    /// Claims due messages of `kinds`, up to `batch` at a time, and dispatches them in order;
    /// with `places`, each claimed message holds one until its outcome is recorded.
    async fn claim_loop(
        &self,
        kinds: &[Kind],
        batch: usize,
        places: Option<Arc<Semaphore>>,
        wake: &Notify,
        shutdown: &CancellationToken,
    ) {
        let mut last_cleanup = now_ms();
        while !shutdown.is_cancelled() {
            let now = now_ms();
            if now - last_cleanup > 60_000 {
                self.limits.forget_idle();
                last_cleanup = now;
            }
            if !self.operators.values().any(|op| op.health.can_submit()) {
                // nothing could go out (every operator down, or in cluster mode another node
                // holds the binds): leave the queue to whoever can send
                tokio::select! {
                    _ = tokio::time::sleep(self.idle_poll) => {}
                    _ = shutdown.cancelled() => {}
                }
                continue;
            }
            let mut held = match &places {
                Some(places) => tokio::select! {
                    permit = places.clone().acquire_many_owned(batch as u32) => permit.ok(),
                    _ = shutdown.cancelled() => break,
                },
                None => None,
            };
            match self.scheduler.next_batch(now, batch, kinds).await {
                Ok(claimed) if !claimed.is_empty() => {
                    for message in claimed {
                        let place = held.as_mut().and_then(|held| held.split(1));
                        if shutdown.is_cancelled() {
                            self.hand_back(&message, now_ms(), Duration::ZERO, "shutting down")
                                .await;
                        } else {
                            self.dispatch(message, place).await;
                        }
                    }
                    drop(held); // the places of a batch not claimed in full
                }
                Ok(_) => {
                    tokio::select! {
                        _ = wake.notified() => {}
                        _ = tokio::time::sleep(self.idle_poll) => {}
                        _ = shutdown.cancelled() => {}
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot take the next messages from the store");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        _ = shutdown.cancelled() => {}
                    }
                }
            }
        }
    }

    /// Sends one claimed (`submitting`) message on its way with its in-flight place, or hands
    /// it back.
    async fn dispatch(&self, mut message: Message, place: Option<OwnedSemaphorePermit>) {
        let now = now_ms();
        match otp_gate::check(self.otp.as_ref(), &message) {
            Gate::Send => {}
            Gate::Cancel(why) => {
                let _ = self.scheduler.drop_unwanted(message.id, why, now).await;
                return;
            }
            Gate::Reject(why) => {
                let _ = self.scheduler.reject(message.id, why, now).await;
                return;
            }
            Gate::Later(why) => {
                self.hand_back(&message, now, OTP_READ_WAIT, why).await;
                return;
            }
        }
        if let Some(sealed) = message.text.as_deref().filter(|t| is_sealed(t)) {
            match self.otp.as_ref().map(|otp| otp.open_text(sealed)) {
                Some(Ok(text)) => message.text = Some(text),
                _ => {
                    let why = "the sealed OTP text cannot be opened";
                    let _ = self.scheduler.reject(message.id, why, now).await;
                    return;
                }
            }
        }
        let id = message.id;
        let Ok(number) = Msisdn::from_e164_digits(&message.recipient) else {
            let _ = self
                .scheduler
                .reject(id, "invalid recipient number", now)
                .await;
            return;
        };
        let Some(operator) = self.pick_operator(&number) else {
            self.hand_back(&message, now, NO_OPERATOR_WAIT, "no operator is up")
                .await;
            return;
        };
        if let Some(wait) = self.limits.check(&message, now) {
            tracing::debug!(%id, to = ?number, wait_s = wait.as_secs(), "held: per-recipient limit");
            self.hand_back(&message, now, wait, "held: per-recipient limit")
                .await;
            return;
        }
        let job = match self.job_for(&message, operator, place, now) {
            Ok(job) => job,
            Err(e) => {
                note(
                    &UNBUILDABLE,
                    || tracing::warn!(%id, error = %e, "{}", UNBUILDABLE.what),
                );
                let _ = self.scheduler.reject(id, &e.to_string(), now).await;
                return;
            }
        };
        tracing::debug!(%id, to = ?number, operator = %operator.config.name, parts = job.parts.len(), of = job.total_parts, "submitting");
        if operator.jobs.send(job).await.is_err() {
            let _ = self
                .scheduler
                .retry(id, "the operator's sessions are shutting down", now_ms())
                .await;
        }
    }

    /// The job for `message` on `operator`: every part, or, when that operator already
    /// acknowledged some of them, only the others (with the same concatenation reference).
    fn job_for(
        &self,
        message: &Message,
        operator: &OperatorHandle,
        place: Option<OwnedSemaphorePermit>,
        now: Millis,
    ) -> Result<Job, pdu::PduError> {
        let config = &operator.config;
        let acknowledged = |i: usize| {
            message
                .parts
                .get(i)
                .is_some_and(|p| p.operator_id.is_some())
        };
        let resuming = message.operator.as_deref() == Some(config.name.as_str())
            && (0..message.parts.len()).any(acknowledged);
        let kept = message.concat_ref.filter(|_| resuming);
        let mut reference = kept.unwrap_or_else(|| self.concat_refs.next(&message.recipient));
        let mut parts = pdu::parts_for(message, config, &self.encoding, now, reference)?;
        // the acknowledged parts stand only for the same split with the same reference
        let fresh =
            !resuming || parts.len() != message.parts.len() || (parts.len() > 1 && kept.is_none());
        if fresh && kept.is_some() && parts.len() > 1 {
            // the text splits otherwise than before: its parts go again, told apart
            reference = self.concat_refs.next(&message.recipient);
            parts = pdu::parts_for(message, config, &self.encoding, now, reference)?;
        }
        let concat_ref = (parts.len() > 1).then_some(reference);
        let total_parts = u32::try_from(parts.len()).unwrap_or(u32::MAX);
        let parts = (0u32..)
            .zip(parts)
            .filter(|(i, _)| fresh || !acknowledged(*i as usize))
            .collect();
        Ok(Job {
            id: message.id,
            parts,
            total_parts,
            concat_ref,
            send_by: message.send_by,
            kind: message.kind,
            place,
        })
    }

    /// The first operator for the number whose binds can take submits.
    fn pick_operator(&self, number: &Msisdn) -> Option<&OperatorHandle> {
        self.router
            .candidates(number)
            .filter_map(|name| self.operators.get(name))
            .find(|op| op.health.can_submit())
    }

    /// Puts a claimed message back unsent for `wait` (no attempt counted).
    async fn hand_back(&self, message: &Message, now: Millis, wait: Duration, why: &str) {
        let until = now.saturating_add(millis(wait));
        if let Err(e) = self.scheduler.defer(message.id, until, now).await {
            tracing::error!(id = %message.id, error = %e, why, "cannot hand a message back to the queue");
        }
    }
}
