//! [`PgStore`], the cluster engine's handle: opening (connect, migrate, start the writer),
//! accepting through the writer's group commit, and reads on a shared connection.

use super::connect::connect;
use super::counts::{self, Known};
use super::events;
use super::failed;
use super::migrate::migrate;
use super::prepared::PREPARED;
use super::reads::{Exclusive, Reads};
use super::recover::requeue_in_flight;
use crate::store::config::PostgresConfig;

use super::committer::{CLAIMER, Committer, Retention, WRITER};
use super::writer::{self, Op};
use crate::message::millis;
use crate::message::{Kind, Message, MessageId, Millis, NewMessage, now_ms};
use crate::operator_id::normalize_operator_id;
use crate::store::config::StoreConfig;
use crate::store::counts::Counts;
use crate::store::error::StoreError;
use crate::store::event::StoredEvent;
use crate::store::layout::codec;
use crate::store::layout::codec::ParkedReceipt;
use crate::store::reports::Accepted;
use crate::store::reports::ReceiptLanding;
use crate::store::rules::Change;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::{mpsc, oneshot, watch};

/// How many accept calls may wait for the writer before callers wait to hand theirs over.
const WAITING_OPS: usize = 1024;

/// A handle to the cluster store; cheap to clone and share between tasks. The last one
/// dropped ends the writer task and closes the connections.
#[derive(Clone)]
pub struct PgStore {
    pub(super) inner: Arc<PgInner>,
}

/// A handle that does not keep the cluster store open (see [`crate::store::WeakStore`]).
#[derive(Clone)]
pub struct WeakPg(Weak<PgInner>);

impl WeakPg {
    /// The store, if it is still open.
    pub fn upgrade(&self) -> Option<PgStore> {
        self.0.upgrade().map(|inner| PgStore { inner })
    }
}

/// What every clone of a [`PgStore`] shares.
pub(super) struct PgInner {
    /// The connection reads share (tokio-postgres pipelines concurrent queries on it).
    pub(super) reads: Arc<Reads>,
    /// The writer task's inbox.
    pub(super) ops: mpsc::Sender<Op>,
    /// The claiming task's inbox (a writer task of its own connection that only claims).
    pub(super) claims: mpsc::Sender<Op>,
    /// This node's name.
    pub(super) node: String,
    /// The lease keeper's connection.
    pub(super) leases: Exclusive,
    /// A requeue of silent nodes' messages is asked of the writer and not yet answered.
    pub(super) requeueing: AtomicBool,
    /// The last event seq announced by any node.
    events: Arc<watch::Sender<u64>>,
    /// How many of this node's messages in flight `open` put back in the queue.
    recovered: usize,
    /// The cluster's counters as this node knows them.
    known: Arc<Mutex<Known>>,
    /// Events older than this are trimmed even if a subscriber has not acknowledged them.
    pub(super) keep_events_ms: Millis,
    /// Dropped with the last handle: the event listener then stops.
    _listening: oneshot::Sender<()>,
}

impl PgStore {
    /// Connects (four times: the writer's connection, the claimer's, the reads', and one that
    /// listens for new events; the lease keeper's comes with its first call), brings the
    /// schema up to date, puts back in the queue what this node had in flight when it
    /// stopped, and starts the writer and claimer tasks on the current tokio runtime.
    /// `node` names this node in the cluster (its claims are recorded under it); of `store`,
    /// `max_group` bounds the messages one transaction accepts and the retention settings
    /// apply.
    pub async fn open(
        config: &PostgresConfig,
        node: &str,
        store: &StoreConfig,
    ) -> Result<PgStore, StoreError> {
        let mut client = connect(config).await?;
        migrate(&mut client).await?;
        let known = Arc::new(Mutex::new(counts::start(&client, node).await?));
        let retention = Retention {
            erase_after_ms: millis(store.erase_texts_after),
            forget_after_ms: millis(store.forget_after),
        };
        let committer = |client, writer| Committer {
            client,
            node: node.to_owned(),
            writer,
            known: Arc::clone(&known),
            retention,
            config: config.clone(),
            unsure: Vec::new(),
            commit_sent: false,
        };
        let mut writes = committer(client, WRITER);
        let claiming = committer(connect(config).await?, CLAIMER);
        let recovered = requeue_in_flight(&mut writes, now_ms()).await?;
        let reads = Arc::new(Reads::open(config).await?);
        counts::refresh(Arc::clone(&reads), node.to_owned(), Arc::downgrade(&known));
        let (latest, _) = watch::channel(0);
        let latest = Arc::new(latest);
        let (listening, stop) = oneshot::channel();
        events::follow(config.clone(), Arc::clone(&latest), stop).await?;
        let (ops, inbox) = mpsc::channel(WAITING_OPS);
        let writing = writer::run(writes, inbox, store.max_group.max(1));
        tokio::spawn(PREPARED.scope(Default::default(), writing));
        let (claims, claim_inbox) = mpsc::channel(WAITING_OPS);
        let claimer = writer::run(claiming, claim_inbox, 1);
        tokio::spawn(PREPARED.scope(Default::default(), claimer));
        let inner = PgInner {
            reads,
            ops,
            claims,
            node: node.to_owned(),
            leases: Exclusive::new(config),
            requeueing: AtomicBool::new(false),
            events: latest,
            recovered,
            known,
            keep_events_ms: millis(store.keep_events_for),
            _listening: listening,
        };
        Ok(PgStore {
            inner: Arc::new(inner),
        })
    }

    /// A handle to this store that does not keep it open.
    pub fn downgrade(&self) -> WeakPg {
        WeakPg(Arc::downgrade(&self.inner))
    }

    /// The cluster's counters: this node's changes at once, the other nodes' as of at most
    /// [`counts::REFRESH`] ago.
    pub fn counts(&self) -> Counts {
        self.inner
            .known
            .lock()
            .map(|k| k.counts())
            .unwrap_or_default()
    }

    /// Sends an op to the writer task and waits for its answer.
    pub(super) async fn ask<T>(
        &self,
        op: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Op,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        let op = op(reply);
        let inbox = match op {
            Op::Claim { .. } => &self.inner.claims,
            _ => &self.inner.ops,
        };
        inbox.send(op).await.map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// How many `submitting` messages of this node `open` put back in the queue.
    pub fn recovered_at_open(&self) -> usize {
        self.inner.recovered
    }

    /// Records a receipt on the part whose operator id is one of `candidates` (the canonical
    /// form first), whichever node recorded that id, or parks it until one is recorded.
    pub async fn record_or_park_receipt(
        &self,
        operator: &str,
        candidates: Vec<String>,
        stat: &str,
        error: Option<&str>,
        at: Millis,
    ) -> Result<ReceiptLanding, StoreError> {
        let receipt = ParkedReceipt::new(stat, error, at);
        let operator = operator.to_owned();
        self.ask(|reply| Op::Receipt {
            operator,
            candidates,
            receipt,
            reply,
        })
        .await
    }

    /// The message and part an operator's message id (any form of it: the canonical one is
    /// looked up) belongs to.
    pub async fn find_by_operator_id(
        &self,
        operator: &str,
        operator_id: &str,
    ) -> Result<Option<(MessageId, u32)>, StoreError> {
        let row = self.inner.reads.get().await?.query_opt(
                "SELECT message_id, part FROM operator_ids WHERE operator = $1 AND operator_id = $2",
                &[&operator, &normalize_operator_id(operator_id)],
            )
            .await
            .map_err(|e| failed("reading an operator id", e))?;
        Ok(row.map(|r| {
            (
                MessageId(r.get::<_, i64>(0) as u64),
                r.get::<_, i16>(1) as u32,
            )
        }))
    }

    /// Up to `limit` events with a seq greater than `after`, oldest first, from every node.
    pub async fn read_events(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        events::read(&*self.inner.reads.get().await?, after, limit).await
    }

    /// A receiver that changes whenever any node's new events are committed (its value: the
    /// last seq).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.events.subscribe()
    }

    /// The last event seq the named subscriber acknowledged (0 if it never did).
    pub async fn cursor(&self, name: &str) -> Result<u64, StoreError> {
        events::cursor(&*self.inner.reads.get().await?, name).await
    }

    /// Records, committed, that the named subscriber has handled every event up to `seq`.
    pub async fn ack_cursor(&self, name: &str, seq: u64) -> Result<(), StoreError> {
        events::ack(&*self.inner.reads.get().await?, name, seq).await
    }

    /// Stores a message durably (committed) or finds the one with the same reference.
    pub async fn accept(&self, message: NewMessage) -> Result<Accepted, StoreError> {
        let mut answers = self.accept_batch(vec![message]).await;
        answers.pop().unwrap_or(Err(StoreError::Closed))
    }

    /// Stores many messages in one transaction; one answer per message, in order.
    pub async fn accept_batch(
        &self,
        messages: Vec<NewMessage>,
    ) -> Vec<Result<Accepted, StoreError>> {
        let n = messages.len();
        let (reply, answer) = oneshot::channel();
        let asked = self.inner.ops.send(Op::Accept { messages, reply }).await;
        match (asked, answer.await) {
            (Ok(()), Ok(answers)) => answers,
            _ => (0..n).map(|_| Err(StoreError::Closed)).collect(),
        }
    }

    /// Claims up to `max` messages of `kind`'s lane due by `now`, in queue order: each
    /// becomes `submitting` (an attempt is counted) and is handed to this node only. Messages
    /// found past their `send_by` are expired on the way, never returned.
    pub async fn claim_batch(
        &self,
        kind: Kind,
        now: Millis,
        max: usize,
    ) -> Result<Vec<Message>, StoreError> {
        let lane = kind.lane();
        self.ask(|reply| Op::Claim {
            lane,
            now,
            max,
            reply,
        })
        .await
    }

    /// Applies one change to one message (the store's lifecycle calls are built on it),
    /// committed when it returns; the message as it is now.
    pub async fn change(
        &self,
        id: MessageId,
        change: Change,
        now: Millis,
    ) -> Result<Message, StoreError> {
        self.ask(|reply| Op::Change {
            id,
            change,
            now,
            reply,
        })
        .await
    }

    /// The message with this id.
    pub async fn get(&self, id: MessageId) -> Result<Option<Message>, StoreError> {
        let row = self
            .inner
            .reads
            .get()
            .await?
            .query_opt(
                "SELECT record FROM messages WHERE id = $1",
                &[&(id.0 as i64)],
            )
            .await
            .map_err(|e| failed("reading a message", e))?;
        row.map(|r| codec::decode_record(r.get(0))).transpose()
    }

    /// The message upstream handed over with this reference.
    pub async fn get_by_reference(&self, reference: &str) -> Result<Option<Message>, StoreError> {
        let row = self
            .inner
            .reads
            .get()
            .await?
            .query_opt(
                "SELECT record FROM messages WHERE reference = $1",
                &[&reference],
            )
            .await
            .map_err(|e| failed("reading a message by reference", e))?;
        row.map(|r| codec::decode_record(r.get(0))).transpose()
    }
}
