//! The scheduler: hands the sending stage the next due message lane by lane (`otp` first,
//! then `request`, `notification`, `bulk`, with minimum shares so lower lanes are never
//! starved), turns failures into backoff or a final state, fills in default deadlines per
//! kind, and runs the deadline watcher and housekeeping. State lives in the store; the
//! scheduler keeps only the lane credits in memory.

pub mod backoff;
pub mod config;
pub mod deadlines;
pub mod lanes;
pub mod tasks;

pub use backoff::{Jitter, RetryPolicy};
pub use config::{LaneShares, SchedulerConfig};
pub use deadlines::{DeadlineSpec, KindDefaults, KindRule};
pub use lanes::LanePicker;
pub use tasks::{run_deadline_watcher, run_housekeeping};

use crate::calendar::Calendar;
use crate::message::{Kind, Message, MessageId, Millis, NewMessage, State, millis};
use crate::store::{Accepted, Store, StoreError};
use std::sync::{Arc, Mutex};

/// The scheduler; share it behind an `Arc` between the dispatcher tasks.
pub struct Scheduler {
    store: Store,
    config: SchedulerConfig,
    picker: Mutex<LanePicker>,
    calendar: Arc<Calendar>,
}

impl Scheduler {
    /// A scheduler over `store` (working days: the shipped calendar until one is given).
    pub fn new(store: Store, config: SchedulerConfig) -> Self {
        let picker = Mutex::new(LanePicker::new(config.min_share.by_lane()));
        Scheduler {
            store,
            config,
            picker,
            calendar: Arc::new(Calendar::default()),
        }
    }

    /// Counts working days of default deadlines by this calendar.
    pub fn with_calendar(mut self, calendar: Arc<Calendar>) -> Self {
        self.calendar = calendar;
        self
    }

    /// The store it schedules from.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Its settings.
    pub fn config(&self) -> &SchedulerConfig {
        &self.config
    }

    /// Fills in the default deadlines of the message's kind that upstream left out.
    pub fn prepare(&self, message: &mut NewMessage, now: Millis) {
        self.config.kinds.apply(message, now, &self.calendar);
    }

    /// Fills in default deadlines, then accepts the message durably.
    pub async fn accept(
        &self,
        mut message: NewMessage,
        now: Millis,
    ) -> Result<Accepted, StoreError> {
        self.prepare(&mut message, now);
        self.store.accept(message).await
    }

    /// Claims the next message to send, choosing the lane by priority and minimum shares;
    /// it is `submitting` when returned. Looks only at the head of each lane.
    pub async fn next_due(&self, now: Millis) -> Result<Option<Message>, StoreError> {
        Ok(self.next_batch(now, 1, &Kind::ALL).await?.pop())
    }

    /// Claims up to `max` messages of the lanes of `kinds` to send. With several lanes, the
    /// picks are planned exactly as [`Scheduler::next_due`] would make them, over every lane
    /// with due work (so lanes served elsewhere still take their turns and the shares hold),
    /// and each of `kinds`' lanes then gets its picks in one trip to the store; the batch
    /// lists higher lanes first. One lane alone is claimed directly, leaving the shares be.
    pub async fn next_batch(
        &self,
        now: Millis,
        max: usize,
        kinds: &[Kind],
    ) -> Result<Vec<Message>, StoreError> {
        if let [kind] = kinds {
            return self.store.claim_batch(*kind, now, max).await;
        }
        let mut due = self
            .store
            .lane_heads()
            .await?
            .map(|head| head.is_some_and(|t| t <= now));
        let mine = |lane: usize| kinds.iter().any(|k| k.lane() as usize == lane);
        loop {
            let plan = self.plan(due, max);
            if (0..4).all(|lane| plan[lane] == 0 || !mine(lane)) {
                return Ok(Vec::new());
            }
            let mut batch = Vec::new();
            for (lane, &n) in plan.iter().enumerate() {
                if n == 0 || !mine(lane) {
                    continue;
                }
                let kind = Kind::from_lane(lane as u8).unwrap_or(Kind::Bulk);
                let claimed = self.store.claim_batch(kind, now, n).await?;
                // fewer than planned: everything due there had expired, or was taken
                if claimed.len() < n {
                    due[lane] = false;
                }
                batch.extend(claimed);
            }
            if !batch.is_empty() {
                return Ok(batch);
            }
        }
    }

    /// How many of the next `max` picks go to each lane.
    fn plan(&self, due: [bool; 4], max: usize) -> [usize; 4] {
        let mut plan = [0; 4];
        for _ in 0..max {
            match self.choose(due) {
                Some(lane) => plan[lane as usize] += 1,
                None => break,
            }
        }
        plan
    }

    fn choose(&self, due: [bool; 4]) -> Option<u8> {
        let mut picker = self
            .picker
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        picker.choose(due)
    }

    /// Records that the operator acknowledged every part; arms the final-receipt timeout.
    pub async fn submitted(
        &self,
        id: MessageId,
        operator: &str,
        part_ids: Vec<String>,
        now: Millis,
    ) -> Result<Message, StoreError> {
        let give_up_at = now.saturating_add(millis(self.config.final_receipt_timeout));
        self.store
            .mark_submitted(id, operator, part_ids, Some(give_up_at))
            .await
    }

    /// Records the parts of a message the operator acknowledged (`accepted`: part index and
    /// its id, of `parts` in all); once every part has an id the message is `submitted` and
    /// its final-receipt timeout armed (see [`Store::record_accepted`]).
    pub async fn accepted(
        &self,
        id: MessageId,
        operator: &str,
        parts: u32,
        accepted: Vec<(u32, String)>,
        concat_ref: Option<u16>,
        now: Millis,
    ) -> Result<Message, StoreError> {
        let give_up_at = now.saturating_add(millis(self.config.final_receipt_timeout));
        self.store
            .record_accepted(id, operator, parts, accepted, concat_ref, Some(give_up_at))
            .await
    }

    /// A transient failure of a claimed message: back to the queue after a jittered,
    /// exponential, capped backoff — or `failed` with the last reason once it has had
    /// `max_attempts` attempts. A next try after `send_by` waits queued and the deadline
    /// watcher expires it at `send_by`, not before.
    pub async fn retry(
        &self,
        id: MessageId,
        reason: &str,
        now: Millis,
    ) -> Result<Message, StoreError> {
        let message = self.store.get(id).await?.ok_or(StoreError::NotFound(id))?;
        let policy = &self.config.retry;
        if message.attempts >= policy.max_attempts {
            let why = format!(
                "gave up after {} attempts; last: {reason}",
                message.attempts
            );
            return self.store.finish(id, State::Failed, &why, now).await;
        }
        let delay = policy.delay(message.attempts, &mut rand::rng());
        self.store
            .requeue(id, now.saturating_add(millis(delay)), reason, now)
            .await
    }

    /// The operator asked to slow down, or the message never reached the wire: back in the
    /// queue after `pause` without counting an attempt (it still expires at `send_by`).
    pub async fn later(
        &self,
        id: MessageId,
        reason: &str,
        pause: std::time::Duration,
        now: Millis,
    ) -> Result<Message, StoreError> {
        let due = now.saturating_add(millis(pause));
        self.store.requeue_uncounted(id, due, reason, now).await
    }

    /// A permanent refusal at submit time: the message becomes `rejected`.
    pub async fn reject(
        &self,
        id: MessageId,
        reason: &str,
        now: Millis,
    ) -> Result<Message, StoreError> {
        self.store.finish(id, State::Rejected, reason, now).await
    }

    /// A claimed message that is no longer wanted (an OTP whose code a newer one replaced):
    /// it becomes `cancelled`.
    pub async fn drop_unwanted(
        &self,
        id: MessageId,
        reason: &str,
        now: Millis,
    ) -> Result<Message, StoreError> {
        self.store.finish(id, State::Cancelled, reason, now).await
    }

    /// "Not yet" for a claimed message (e.g. the recipient's rate limit): back in the queue
    /// until `until`, without counting an attempt.
    pub async fn defer(
        &self,
        id: MessageId,
        until: Millis,
        now: Millis,
    ) -> Result<Message, StoreError> {
        self.store.defer(id, until, now).await
    }
}
