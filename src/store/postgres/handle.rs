//! [`PgStore`], the cluster engine's handle: opening (connect, migrate, start the writer),
//! accepting through the writer's group commit, and reads on a shared connection.

use super::config::PostgresConfig;
use super::connect::connect;
use super::migrate::migrate;
use super::writer::{self, Op};
use crate::message::{Kind, Message, MessageId, Millis, NewMessage};
use crate::store::error::StoreError;
use crate::store::layout::codec;
use crate::store::rules::Change;
use crate::store::writer::Accepted;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::Client;

/// How many accept calls may wait for the writer before callers wait to hand theirs over.
const WAITING_OPS: usize = 1024;

/// A handle to the cluster store; cheap to clone and share between tasks.
#[derive(Clone)]
pub struct PgStore {
    /// The connection reads share (tokio-postgres pipelines concurrent queries on it).
    reads: Arc<Client>,
    /// The writer task's inbox.
    ops: mpsc::Sender<Op>,
}

impl PgStore {
    /// Connects (twice: the writer's connection and the reads'), brings the schema up to
    /// date, and starts the writer task on the current tokio runtime. `node` names this node
    /// in the cluster (its claims are recorded under it); `max_group` bounds the messages one
    /// transaction accepts.
    pub async fn open(
        config: &PostgresConfig,
        node: &str,
        max_group: usize,
    ) -> Result<PgStore, StoreError> {
        let mut writes = connect(config).await?;
        migrate(&mut writes).await?;
        let reads = connect(config).await?;
        let (ops, inbox) = mpsc::channel(WAITING_OPS);
        tokio::spawn(writer::run(
            writes,
            inbox,
            max_group.max(1),
            node.to_owned(),
        ));
        Ok(PgStore {
            reads: Arc::new(reads),
            ops,
        })
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
        let asked = self.ops.send(Op::Accept { messages, reply }).await;
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
        let (reply, answer) = oneshot::channel();
        let lane = kind.lane();
        let op = Op::Claim {
            lane,
            now,
            max,
            reply,
        };
        self.ops.send(op).await.map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Applies one change to one message (the store's lifecycle calls are built on it),
    /// committed when it returns; the message as it is now.
    pub async fn change(
        &self,
        id: MessageId,
        change: Change,
        now: Millis,
    ) -> Result<Message, StoreError> {
        let (reply, answer) = oneshot::channel();
        let op = Op::Change {
            id,
            change,
            now,
            reply,
        };
        self.ops.send(op).await.map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// The message with this id.
    pub async fn get(&self, id: MessageId) -> Result<Option<Message>, StoreError> {
        let row = self
            .reads
            .query_opt(
                "SELECT record FROM messages WHERE id = $1",
                &[&(id.0 as i64)],
            )
            .await
            .map_err(|e| read_failed("reading a message", e))?;
        row.map(|r| codec::decode_record(r.get(0))).transpose()
    }

    /// The message upstream handed over with this reference.
    pub async fn get_by_reference(&self, reference: &str) -> Result<Option<Message>, StoreError> {
        let row = self
            .reads
            .query_opt(
                "SELECT record FROM messages WHERE reference = $1",
                &[&reference],
            )
            .await
            .map_err(|e| read_failed("reading a message by reference", e))?;
        row.map(|r| codec::decode_record(r.get(0))).transpose()
    }
}

fn read_failed(what: &str, e: tokio_postgres::Error) -> StoreError {
    StoreError::storage(format!("{what}: {e}"), e)
}
