//! [`Store`], the handle every stage holds, over whichever engine keeps the store: sled on one
//! machine ([`super::sled`]), PostgreSQL for a cluster ([`super::postgres`]). Each call goes to
//! the engine's own implementation; the changes the stages name (cancel, submit results,
//! retries, receipts) are built on the engines' one `change` in `lifecycle_api.rs`.

use crate::message::{Kind, Message, MessageId, Millis, NewMessage};
use crate::store::config::StoreConfig;
use crate::store::counts::Counts;
use crate::store::disk::DiskSpace;
use crate::store::error::StoreError;
use crate::store::event::{Event, StoredEvent};
use crate::store::postgres::{PgStore, PostgresConfig, WeakPg};
use crate::store::reports::{
    Accepted, ClusterView, DroppedReceipts, Fired, LeaseReport, ReceiptLanding, RetentionReport,
};
use crate::store::rules::Change;
use crate::store::sled::{SledStore, WeakSled};
use crate::store::writer::AcceptedOtps;
use std::time::Duration;
use tokio::sync::watch;

pub use crate::store::reports::{AwaitingReceipt, Tier};

/// A handle to the store; cheap to clone and share between tasks.
#[derive(Clone)]
pub struct Store {
    engine: Engine,
}

#[derive(Clone)]
enum Engine {
    Sled(SledStore),
    Postgres(PgStore),
}

/// Runs `$call` on the engine's own store, bound to `$s`.
macro_rules! on_engine {
    ($self:ident, $s:ident => $call:expr) => {
        match &$self.engine {
            Engine::Sled($s) => $call,
            Engine::Postgres($s) => $call,
        }
    };
}

/// A handle that does not keep the store open: background observers hold it so that dropping
/// the last [`Store`] still shuts the engine's writer down.
#[derive(Clone)]
pub enum WeakStore {
    /// A sled store's.
    Sled(WeakSled),
    /// A cluster store's.
    Postgres(WeakPg),
}

impl WeakStore {
    /// The store, if it is still open.
    pub fn upgrade(&self) -> Option<Store> {
        let engine = match self {
            WeakStore::Sled(weak) => Engine::Sled(weak.upgrade()?),
            WeakStore::Postgres(weak) => Engine::Postgres(weak.upgrade()?),
        };
        Some(Store { engine })
    }
}

impl Store {
    /// Opens (or creates) the sled store at `config.path`, then puts every message caught in
    /// `submitting` back in the queue. Blocking: call it before serving, or from
    /// `spawn_blocking`.
    pub fn open(config: &StoreConfig) -> Result<Store, StoreError> {
        Ok(Store::opened(Engine::Sled(SledStore::open(config)?)))
    }

    /// Opens the cluster store in the database `postgres` names, as node `node` (see
    /// [`PgStore::open`]); `config`'s group and retention settings apply.
    pub async fn open_cluster(
        postgres: &PostgresConfig,
        node: &str,
        config: &StoreConfig,
    ) -> Result<Store, StoreError> {
        let store = PgStore::open(postgres, node, config).await?;
        Ok(Store::opened(Engine::Postgres(store)))
    }

    /// The handle over an engine just opened; says what the opening put back in the queue.
    fn opened(engine: Engine) -> Store {
        let store = Store { engine };
        let recovered = store.recovered_at_open();
        if recovered > 0 {
            tracing::info!(
                recovered,
                "messages caught in submitting are back in the queue"
            );
        }
        store
    }

    /// A handle to this store that does not keep it open.
    pub fn downgrade(&self) -> WeakStore {
        match &self.engine {
            Engine::Sled(s) => WeakStore::Sled(s.downgrade()),
            Engine::Postgres(s) => WeakStore::Postgres(s.downgrade()),
        }
    }

    /// How many `submitting` messages `open` put back in the queue.
    pub fn recovered_at_open(&self) -> usize {
        on_engine!(self, s => s.recovered_at_open())
    }

    /// Stores a message durably (or finds the one with the same reference).
    pub async fn accept(&self, message: NewMessage) -> Result<Accepted, StoreError> {
        on_engine!(self, s => s.accept(message).await)
    }

    /// Stores many messages with one flush (one commit); one answer per message, in order.
    /// On sled, below the free-space reserve (see [`super::disk`]) all are refused with
    /// [`StoreError::DiskFull`].
    pub async fn accept_batch(
        &self,
        messages: Vec<NewMessage>,
    ) -> Vec<Result<Accepted, StoreError>> {
        on_engine!(self, s => s.accept_batch(messages).await)
    }

    /// The current counters (messages per state, queued per lane).
    pub fn counts(&self) -> Counts {
        on_engine!(self, s => s.counts())
    }

    /// A receiver that changes whenever new events are durable (its value: the last seq).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        on_engine!(self, s => s.subscribe())
    }

    /// Waits until every change made so far is durable (at once on the cluster engine, whose
    /// every change is committed when it returns).
    pub async fn flush(&self) -> Result<(), StoreError> {
        match &self.engine {
            Engine::Sled(s) => s.flush().await,
            Engine::Postgres(_) => Ok(()),
        }
    }

    /// Checks every index against the records; the problems found (none = healthy). The
    /// cluster engine's indexes are the database's own, kept by its constraints: none to check.
    pub async fn verify_integrity(&self) -> Result<Vec<String>, StoreError> {
        match &self.engine {
            Engine::Sled(s) => s.verify_integrity().await,
            Engine::Postgres(_) => Ok(Vec::new()),
        }
    }

    /// The free space of the store's disk against the reserve (for `khabar status`); None for
    /// the cluster engine, whose disk is the database server's.
    pub fn disk_space(&self) -> Option<DiskSpace> {
        match &self.engine {
            Engine::Sled(s) => Some(s.disk_space()),
            Engine::Postgres(_) => None,
        }
    }

    /// The storage failure that stopped the store, if one did (it then refuses every write
    /// until reopened; the daemon exits and its supervisor restarts it).
    pub fn failure(&self) -> Option<StoreError> {
        match &self.engine {
            Engine::Sled(s) => s.failure(),
            Engine::Postgres(_) => None,
        }
    }

    /// Applies one change to one message; the message as it is now.
    pub(super) async fn change(
        &self,
        id: MessageId,
        change: Change,
        now: Millis,
    ) -> Result<Message, StoreError> {
        on_engine!(self, s => s.change(id, change, now).await)
    }

    /// Claims up to `max` messages of `kind`'s lane due by `now`, in queue order: each
    /// becomes `submitting` (an attempt is counted) and is returned to be sent, to this
    /// caller only. Messages found past their `send_by` are expired on the way.
    pub async fn claim_batch(
        &self,
        kind: Kind,
        now: Millis,
        max: usize,
    ) -> Result<Vec<Message>, StoreError> {
        on_engine!(self, s => s.claim_batch(kind, now, max).await)
    }

    /// From now on OTPs are claimed in the same group as their accept and arrive here,
    /// `submitting`, once that group is durable: the sled engine's fast path (None on the
    /// cluster engine, where the claim loops find them). One taker at a time.
    pub fn take_otps_at_accept(&self) -> Option<AcceptedOtps> {
        match &self.engine {
            Engine::Sled(s) => Some(s.take_otps_at_accept()),
            Engine::Postgres(_) => None,
        }
    }

    /// Records a receipt on the part whose operator id is one of `candidates` (the canonical
    /// form first), or parks it until the submit result naming it is recorded. On sled the
    /// part is looked up first outside the writer (the usual case: its id was recorded long
    /// before), the writer parking only what that finds no part for; on the cluster engine
    /// the writer looks up the ids of all the receipts of its group at once.
    pub async fn record_or_park_receipt(
        &self,
        operator: &str,
        candidates: Vec<String>,
        stat: &str,
        error: Option<&str>,
        at: Millis,
    ) -> Result<ReceiptLanding, StoreError> {
        match &self.engine {
            Engine::Sled(s) => {
                for key in &candidates {
                    if let Some((id, part)) = s.find_by_operator_id(operator, key).await? {
                        let message = self.record_receipt(id, part, stat, error, at).await?;
                        let message = Box::new(message);
                        return Ok(ReceiptLanding::Recorded { message, part });
                    }
                }
                s.record_or_park_receipt(operator, candidates, stat, error, at)
                    .await
            }
            Engine::Postgres(s) => {
                s.record_or_park_receipt(operator, candidates, stat, error, at)
                    .await
            }
        }
    }

    /// Drops up to `limit` receipts parked before `before`: they matched no message within
    /// their hold.
    pub async fn drop_parked_receipts(
        &self,
        before: Millis,
        limit: usize,
    ) -> Result<DroppedReceipts, StoreError> {
        on_engine!(self, s => s.drop_parked_receipts(before, limit).await)
    }

    /// Appends an event (e.g. a reply) to the log; returns its seq.
    pub async fn append_event(&self, event: Event) -> Result<u64, StoreError> {
        on_engine!(self, s => s.append_event(event).await)
    }

    /// Records that the named consumer has handled every event up to `seq`.
    pub async fn ack_cursor(&self, name: &str, seq: u64) -> Result<(), StoreError> {
        on_engine!(self, s => s.ack_cursor(name, seq).await)
    }

    /// Fires deadlines up to `now` (at most about `limit`; `more` tells whether to call again).
    pub async fn fire_due_deadlines(&self, now: Millis, limit: usize) -> Result<Fired, StoreError> {
        on_engine!(self, s => s.fire_due_deadlines(now, limit).await)
    }

    /// Erases the texts of messages finished longer ago than the text retention and forgets
    /// messages finished longer ago than the record retention (at most `limit` each).
    pub async fn run_retention(
        &self,
        now: Millis,
        limit: usize,
    ) -> Result<RetentionReport, StoreError> {
        on_engine!(self, s => s.run_retention(now, limit).await)
    }

    /// Deletes events every consumer has acknowledged and events older than the event
    /// retention (at most `limit`); returns how many.
    pub async fn trim_events(&self, now: Millis, limit: usize) -> Result<usize, StoreError> {
        on_engine!(self, s => s.trim_events(now, limit).await)
    }

    /// Records this node's heartbeat and renews or takes the leases of `operators` for
    /// `ttl` (cluster engine); a single node on the embedded engine holds every operator.
    pub async fn renew_leases(
        &self,
        operators: Vec<String>,
        ttl: Duration,
        first: bool,
    ) -> Result<LeaseReport, StoreError> {
        match &self.engine {
            Engine::Sled(_) => Ok(LeaseReport {
                held: operators,
                ..LeaseReport::default()
            }),
            Engine::Postgres(s) => s.renew_leases(operators, ttl, first).await,
        }
    }

    /// Gives up this node's leases at once (a clean stop; nothing on the embedded engine).
    pub async fn release_leases(&self) -> Result<(), StoreError> {
        match &self.engine {
            Engine::Sled(_) => Ok(()),
            Engine::Postgres(s) => s.release_leases().await,
        }
    }

    /// The value every node of the cluster has for `name`: `value` when this node is the
    /// first to say, else what the first said (the caller compares). On the embedded engine
    /// there is no other node: `value`.
    pub async fn agree(&self, name: &str, value: &str) -> Result<String, StoreError> {
        match &self.engine {
            Engine::Sled(_) => Ok(value.to_owned()),
            Engine::Postgres(s) => s.agree(name, value).await,
        }
    }

    /// The cluster's nodes, leases and database (cluster engine; `None` on the embedded one).
    pub async fn cluster_view(&self, ttl: Duration) -> Result<Option<ClusterView>, StoreError> {
        match &self.engine {
            Engine::Sled(_) => Ok(None),
            Engine::Postgres(s) => s.cluster_view(ttl).await.map(Some),
        }
    }

    /// The message with this id, wherever the engine keeps it.
    pub async fn get(&self, id: MessageId) -> Result<Option<Message>, StoreError> {
        on_engine!(self, s => s.get(id).await)
    }

    /// Which tier holds the message (the cluster engine has one: `Live`); None if none does.
    pub async fn tier_of(&self, id: MessageId) -> Result<Option<Tier>, StoreError> {
        match &self.engine {
            Engine::Sled(s) => s.tier_of(id).await,
            Engine::Postgres(s) => Ok(s.holds(id).await?.then_some(Tier::Live)),
        }
    }

    /// The message upstream handed over with this reference.
    pub async fn get_by_reference(&self, reference: &str) -> Result<Option<Message>, StoreError> {
        on_engine!(self, s => s.get_by_reference(reference).await)
    }

    /// The message and part index an operator's message id (from submit_sm_resp) belongs to.
    pub async fn find_by_operator_id(
        &self,
        operator: &str,
        operator_id: &str,
    ) -> Result<Option<(MessageId, u32)>, StoreError> {
        on_engine!(self, s => s.find_by_operator_id(operator, operator_id).await)
    }

    /// The due time of the earliest queued message of a kind's lane (it may lie in the future).
    pub async fn lane_head(&self, kind: Kind) -> Result<Option<Millis>, StoreError> {
        on_engine!(self, s => s.lane_head(kind).await)
    }

    /// [`Store::lane_head`] of every lane, by lane (one trip to the database on the cluster
    /// engine).
    pub async fn lane_heads(&self) -> Result<[Option<Millis>; 4], StoreError> {
        match &self.engine {
            Engine::Sled(s) => {
                let mut heads = [None; 4];
                for kind in Kind::ALL {
                    heads[kind.lane() as usize] = s.lane_head(kind).await?;
                }
                Ok(heads)
            }
            Engine::Postgres(s) => s.lane_heads().await,
        }
    }

    /// The earliest deadline still to fire (on sled, at most a second after the real one).
    pub async fn next_deadline(&self) -> Result<Option<Millis>, StoreError> {
        on_engine!(self, s => s.next_deadline().await)
    }

    /// Up to `limit` events with a seq greater than `after`, oldest first.
    pub async fn read_events(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        on_engine!(self, s => s.read_events(after, limit).await)
    }

    /// The seq to read events after so that the first one read is the first stamped `at` or
    /// later.
    pub async fn events_since(&self, at: Millis) -> Result<u64, StoreError> {
        on_engine!(self, s => s.events_since(at).await)
    }

    /// Every event up to this seq has moved to the sled engine's history tier (0 on the
    /// cluster engine, which has no tiers).
    pub fn events_in_history(&self) -> u64 {
        match &self.engine {
            Engine::Sled(s) => s.events_in_history(),
            Engine::Postgres(_) => 0,
        }
    }

    /// The last event seq the named consumer acknowledged (0 if it never did).
    pub async fn cursor(&self, name: &str) -> Result<u64, StoreError> {
        on_engine!(self, s => s.cursor(name).await)
    }

    /// Bytes the store takes on disk.
    pub async fn size_on_disk(&self) -> Result<u64, StoreError> {
        on_engine!(self, s => s.size_on_disk().await)
    }

    /// The first `limit` queued messages of `kind`'s lane with their due times, in the order
    /// they will be claimed.
    pub async fn queued_head(
        &self,
        kind: Kind,
        limit: usize,
    ) -> Result<Vec<(Millis, Message)>, StoreError> {
        on_engine!(self, s => s.queued_head(kind, limit).await)
    }

    /// Up to `limit` messages handed to a session whose submit response is not yet seen
    /// (`submitting`), in id order.
    pub async fn in_flight(&self, limit: usize) -> Result<Vec<Message>, StoreError> {
        on_engine!(self, s => s.in_flight(limit).await)
    }

    /// Every message that awaits its receipt or whose receipt is overdue.
    pub async fn awaiting_receipts(&self) -> Result<Vec<AwaitingReceipt>, StoreError> {
        on_engine!(self, s => s.awaiting_receipts().await)
    }
}
