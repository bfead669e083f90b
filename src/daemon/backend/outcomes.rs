//! Follows the store's durable event log for the status report: how many messages ended each
//! way per second over the last hour, which messages' receipts are overdue, and the lane of
//! each message awaiting its receipt (the store counts those per state only).
//!
//! At start it takes the messages awaiting their receipts from the live records and reads
//! the log from an hour back only (the retained log holds days of events), so the figures
//! survive a restart; then it waits for new events. It holds the store weakly, so it never
//! keeps a closed store open.

use crate::api::views::Outcomes;
use crate::message::{Kind, MessageId, Millis, State, now_ms};
use crate::store::{AwaitingReceipt, Event, Store, StoreError, StoredEvent};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::task::AbortHandle;

/// Seconds of per-second counts kept (one hour).
const SECONDS: usize = 3600;
/// Events read per page.
const PAGE: usize = 4096;
/// How long to wait before reading again after a store error.
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// Counts of one wall-clock second.
#[derive(Clone, Default)]
struct Second {
    at: i64,
    counts: Outcomes,
}

/// What the tracker knows.
struct Tracked {
    /// Ring of the last hour, indexed by second modulo [`SECONDS`].
    seconds: Vec<Second>,
    /// Messages whose `receipt_by` passed while they were not final: id → `receipt_by`.
    overdue: HashMap<MessageId, Millis>,
    /// Messages awaiting their receipt, with their kind.
    submitted: HashMap<MessageId, Kind>,
}

/// Outcome counts, overdue receipts and submitted messages per lane, from the event log.
pub struct OutcomeTracker {
    tracked: Mutex<Tracked>,
    /// True once the log as it was at start has been read: before that the figures are a
    /// replay's halfway state (messages seen submitted whose receipts are further on).
    caught_up: tokio::sync::watch::Sender<bool>,
}

impl Default for OutcomeTracker {
    fn default() -> Self {
        Self::new()
    }
}

/// Adds one message that ended in `state` to `counts`.
fn count(counts: &mut Outcomes, state: State) {
    let slot = match state {
        State::Submitted => &mut counts.submitted,
        State::Delivered => &mut counts.delivered,
        State::Undeliverable => &mut counts.undeliverable,
        State::Expired => &mut counts.expired,
        State::Rejected => &mut counts.rejected,
        State::Failed => &mut counts.failed,
        State::Cancelled => &mut counts.cancelled,
        State::Queued | State::Submitting | State::Unknown => return,
    };
    *slot += 1;
}

/// Sums `from` into `into`.
fn add(into: &mut Outcomes, from: &Outcomes) {
    into.accepted += from.accepted;
    into.submitted += from.submitted;
    into.delivered += from.delivered;
    into.undeliverable += from.undeliverable;
    into.expired += from.expired;
    into.rejected += from.rejected;
    into.failed += from.failed;
    into.cancelled += from.cancelled;
}

impl OutcomeTracker {
    /// A tracker that has seen nothing.
    pub fn new() -> Self {
        OutcomeTracker {
            tracked: Mutex::new(Tracked {
                seconds: vec![Second::default(); SECONDS],
                overdue: HashMap::new(),
                submitted: HashMap::new(),
            }),
            caught_up: tokio::sync::watch::Sender::new(false),
        }
    }

    /// Resolves once the log as it was at start has been read (at once afterwards), so that
    /// the first status after a restart counts what is true, not a replay's halfway state.
    pub async fn caught_up(&self) {
        let mut caught_up = self.caught_up.subscribe();
        let _ = caught_up.wait_for(|&done| done).await;
    }

    fn lock(&self) -> MutexGuard<'_, Tracked> {
        self.tracked.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts into the second of `at` (ignored if more than an hour before `now`).
    fn bump(tracked: &mut Tracked, at: Millis, now: Millis, f: impl FnOnce(&mut Outcomes)) {
        let second = at.div_euclid(1000);
        if second <= now.div_euclid(1000) - SECONDS as i64 {
            return;
        }
        let slot = &mut tracked.seconds[second.rem_euclid(SECONDS as i64) as usize];
        if slot.at != second {
            *slot = Second {
                at: second,
                counts: Outcomes::default(),
            };
        }
        f(&mut slot.counts);
    }

    /// Counts `n` messages accepted at `at`.
    pub fn record_accepted(&self, n: u64, at: Millis) {
        let mut tracked = self.lock();
        Self::bump(&mut tracked, at, now_ms(), |c| c.accepted += n);
    }

    /// Starts from the live messages awaiting their receipts (read before the log is).
    fn seed(&self, awaiting: Vec<AwaitingReceipt>) {
        let mut tracked = self.lock();
        for message in awaiting {
            if message.submitted {
                tracked.submitted.insert(message.id, message.kind);
            }
            if let Some(receipt_by) = message.overdue {
                tracked.overdue.insert(message.id, receipt_by);
            }
        }
    }

    /// Applies events in log order; `kinds` gives the kind of messages that entered
    /// `submitted` (those not found are left out of the per-lane counts).
    pub fn apply(&self, events: &[StoredEvent], kinds: &HashMap<MessageId, Kind>) {
        let now = now_ms();
        let mut tracked = self.lock();
        for stored in events {
            match &stored.event {
                Event::StateChanged { id, state, at, .. } => {
                    Self::bump(&mut tracked, *at, now, |c| count(c, *state));
                    if *state == State::Submitted {
                        if let Some(kind) = kinds.get(id) {
                            tracked.submitted.insert(*id, *kind);
                        }
                    } else if state.is_final() {
                        tracked.submitted.remove(id);
                        tracked.overdue.remove(id);
                    }
                }
                Event::ReceiptOverdue { id, receipt_by, .. } => {
                    tracked.overdue.insert(*id, *receipt_by);
                }
                Event::Receipt { .. } | Event::Reply { .. } | Event::ReplyWindowClosed { .. } => {}
            }
        }
    }

    /// Outcomes in the last `seconds` seconds before `now`.
    pub fn last(&self, seconds: i64, now: Millis) -> Outcomes {
        let since = now.div_euclid(1000) - seconds;
        let tracked = self.lock();
        let mut total = Outcomes::default();
        for second in tracked.seconds.iter().filter(|s| s.at > since) {
            add(&mut total, &second.counts);
        }
        total
    }

    /// How many receipts are overdue, and the `limit` earliest deadlines among them.
    pub fn overdue(&self, limit: usize) -> (u64, Vec<(MessageId, Millis)>) {
        let tracked = self.lock();
        let mut earliest: Vec<(MessageId, Millis)> =
            tracked.overdue.iter().map(|(id, at)| (*id, *at)).collect();
        earliest.sort_by_key(|(id, at)| (*at, *id));
        earliest.truncate(limit);
        (tracked.overdue.len() as u64, earliest)
    }

    /// Messages awaiting their receipt, by lane (`Kind::lane`).
    pub fn submitted_by_lane(&self) -> [u64; 4] {
        let mut lanes = [0; 4];
        for kind in self.lock().submitted.values() {
            lanes[kind.lane() as usize] += 1;
        }
        lanes
    }

    /// Starts following `store`'s event log from an hour back, with the messages awaiting
    /// their receipts taken from the live records; runs until the store closes or the
    /// returned handle aborts it. Needs a tokio runtime.
    pub fn follow(self: &Arc<Self>, store: &Store) -> AbortHandle {
        let tracker = Arc::clone(self);
        let weak = store.downgrade();
        let mut latest = store.subscribe();
        let task = tokio::spawn(async move {
            let mut after = loop {
                let Some(store) = weak.upgrade() else { return };
                let started = start(&tracker, &store).await;
                // the tracker must not keep the store open while it waits
                drop(store);
                match started {
                    Ok(after) => break after,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot read the store for status");
                        tokio::time::sleep(RETRY_AFTER).await;
                    }
                }
            };
            loop {
                latest.borrow_and_update();
                loop {
                    let Some(store) = weak.upgrade() else { return };
                    let page = read_page(&store, after).await;
                    drop(store);
                    match page {
                        Ok((events, kinds)) => {
                            let Some(last) = events.last() else {
                                tracker.caught_up.send_replace(true);
                                break;
                            };
                            after = last.seq;
                            tracker.apply(&events, &kinds);
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot read the event log for status");
                            tokio::time::sleep(RETRY_AFTER).await;
                        }
                    }
                }
                if latest.changed().await.is_err() {
                    return;
                }
            }
        });
        task.abort_handle()
    }
}

/// Seeds `tracker` with the messages awaiting their receipts; returns the seq to read the log
/// after (the first event of the last hour). The records are read first: an event that
/// changes one of them afterwards is further on in the log, so replaying the hour ends in the
/// state of now.
async fn start(tracker: &OutcomeTracker, store: &Store) -> Result<u64, StoreError> {
    let awaiting = store.awaiting_receipts().await?;
    tracker.seed(awaiting);
    store.events_since(now_ms() - SECONDS as i64 * 1000).await
}

/// The events after `after`, and the kind of each message they show entering `submitted`
/// and not leaving it within the page.
async fn read_page(
    store: &Store,
    after: u64,
) -> Result<(Vec<StoredEvent>, HashMap<MessageId, Kind>), StoreError> {
    let events = store.read_events(after, PAGE).await?;
    // the kind of each; None: an event stored before events carried it, read the record
    let mut waiting = HashMap::new();
    for stored in &events {
        if let Event::StateChanged {
            id, state, kind, ..
        } = &stored.event
        {
            if *state == State::Submitted {
                waiting.insert(*id, *kind);
            } else if state.is_final() {
                waiting.remove(id);
            }
        }
    }
    let mut kinds = HashMap::new();
    for (id, kind) in waiting {
        let kind = match kind {
            Some(kind) => Some(kind),
            None => store.get(id).await?.map(|message| message.kind),
        };
        if let Some(kind) = kind {
            kinds.insert(id, kind);
        }
    }
    Ok((events, kinds))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changed(seq: u64, id: u64, state: State, at: Millis) -> StoredEvent {
        StoredEvent {
            seq,
            event: Event::StateChanged {
                id: MessageId(id),
                reference: None,
                state,
                kind: None,
                reason: None,
                at,
            },
        }
    }

    #[test]
    fn counts_final_states_per_minute_and_hour() {
        let tracker = OutcomeTracker::new();
        let now = now_ms();
        let kinds = HashMap::from([(MessageId(1), Kind::Otp), (MessageId(2), Kind::Bulk)]);
        tracker.apply(
            &[
                changed(1, 1, State::Submitted, now),
                changed(2, 2, State::Submitted, now - 600_000),
                changed(3, 1, State::Delivered, now),
                changed(4, 3, State::Expired, now - 600_000),
                changed(5, 4, State::Delivered, now - 7_200_000),
            ],
            &kinds,
        );
        let minute = tracker.last(60, now);
        let hour = tracker.last(3600, now);
        assert_eq!(
            (minute.submitted, minute.delivered, minute.expired),
            (1, 1, 0)
        );
        assert_eq!((hour.submitted, hour.delivered, hour.expired), (2, 1, 1));
        // message 1 was delivered; message 2 still awaits its receipt
        assert_eq!(tracker.submitted_by_lane(), [0, 0, 0, 1]);
    }

    #[test]
    fn overdue_receipts_leave_the_list_once_final() {
        let tracker = OutcomeTracker::new();
        let now = now_ms();
        let overdue = |seq, id, receipt_by| StoredEvent {
            seq,
            event: Event::ReceiptOverdue {
                id: MessageId(id),
                reference: None,
                receipt_by,
                at: now,
            },
        };
        tracker.apply(
            &[overdue(1, 7, now - 5), overdue(2, 8, now - 9)],
            &HashMap::new(),
        );
        assert_eq!(tracker.overdue(1), (2, vec![(MessageId(8), now - 9)]));
        tracker.apply(&[changed(3, 8, State::Delivered, now)], &HashMap::new());
        assert_eq!(tracker.overdue(10), (1, vec![(MessageId(7), now - 5)]));
    }

    #[tokio::test]
    async fn a_restart_after_the_log_was_trimmed_still_lists_the_messages_awaiting_receipts() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&crate::store::StoreConfig::at(dir.path().join("store"))).unwrap();
        let new = crate::message::NewMessage {
            reference: None,
            kind: Kind::Otp,
            recipient: "77011234567".into(),
            sender: None,
            text: "Your code: 4711".into(),
            send_by: None,
            receipt_by: None,
            extra: Default::default(),
        };
        let id = store.accept(new).await.unwrap().id;
        let claimed = store.claim_next(Kind::Otp, now_ms()).await.unwrap();
        assert_eq!(claimed.map(|m| m.id), Some(id));
        store
            .mark_submitted(id, "kcell", vec!["a1".into()], None)
            .await
            .unwrap();
        // the log is trimmed as if its events were older than anyone keeps them
        let later = now_ms() + 365 * 86_400_000;
        while store.trim_events(later, 1000).await.unwrap() > 0 {}
        store.flush().await.unwrap();
        assert!(store.read_events(0, 10).await.unwrap().is_empty());

        let tracker = Arc::new(OutcomeTracker::new());
        let following = tracker.follow(&store);
        tracker.caught_up().await;
        let mut lanes = [0; 4];
        lanes[Kind::Otp.lane() as usize] = 1;
        assert_eq!(tracker.submitted_by_lane(), lanes);
        following.abort();
    }
}
