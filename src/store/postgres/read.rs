//! The cluster engine's reads and housekeeping calls beyond a message's life: queue heads and
//! deadlines for the scheduler, walks for `khabar status`, deadlines fired, events appended
//! and trimmed, parked receipts dropped. Reads see every committed change of every node.

use super::failed;
use super::handle::PgStore;
use super::writer::Op;
use crate::message::{Kind, Message, MessageId, Millis};
use crate::store::error::StoreError;
use crate::store::event::Event;
use crate::store::layout::codec;
use crate::store::reports::AwaitingReceipt;
use crate::store::reports::{ClusterView, DroppedReceipts, Fired, LeaseReport, RetentionReport};
use std::sync::atomic::Ordering;
use std::time::Duration;

impl PgStore {
    /// Fires the deadlines due by `now` of up to `limit` messages (`more` tells whether to
    /// call again). Nodes firing at once take different messages.
    pub async fn fire_due_deadlines(&self, now: Millis, limit: usize) -> Result<Fired, StoreError> {
        self.ask(|reply| Op::Fire { now, limit, reply }).await
    }

    /// Erases the texts of messages finished longer ago than the text retention and forgets
    /// messages finished longer ago than the record retention (at most `limit` each).
    pub async fn run_retention(
        &self,
        now: Millis,
        limit: usize,
    ) -> Result<RetentionReport, StoreError> {
        self.ask(|reply| Op::Retention { now, limit, reply }).await
    }

    /// Records this node's heartbeat and renews (or takes, once expired) the leases of
    /// `operators` for `ttl`; requeues what nodes silent for longer had in flight. `first`:
    /// this process's first heartbeat.
    pub async fn renew_leases(
        &self,
        operators: Vec<String>,
        ttl: Duration,
        first: bool,
    ) -> Result<LeaseReport, StoreError> {
        let mut report = {
            let mut client = self.inner.leases.lock().await?;
            super::leases::renew(&mut client, &self.inner.node, &operators, ttl, first).await?
        };
        let gone =
            super::leases::gone(&*self.inner.reads.get().await?, &self.inner.node, ttl).await?;
        // on the writer, which may be busy: the heartbeat does not wait for it, and asks
        // again only once the last request was answered
        if !gone.is_empty() && !self.inner.requeueing.swap(true, Ordering::AcqRel) {
            let store = self.clone();
            let nodes = gone.clone();
            tokio::spawn(async move {
                match store.ask(|reply| Op::RequeueGone { nodes, reply }).await {
                    // none: another node was first
                    Ok(0) => {}
                    Ok(requeued) => tracing::warn!(
                        requeued,
                        "what the silent nodes had in flight is back in the queue"
                    ),
                    Err(e) => {
                        tracing::error!(error = %e, "cannot requeue what the silent nodes had in flight")
                    }
                }
                store.inner.requeueing.store(false, Ordering::Release);
            });
        }
        report.gone = gone;
        Ok(report)
    }

    /// The value of `name` in the `agreed` table: set to `value` if no node set it yet.
    pub async fn agree(&self, name: &str, value: &str) -> Result<String, StoreError> {
        let reads = self.inner.reads.get().await?;
        reads
            .execute(
                "INSERT INTO agreed (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                &[&name, &value],
            )
            .await
            .map_err(|e| failed("recording what the nodes agree on", e))?;
        let row = reads
            .query_one("SELECT value FROM agreed WHERE name = $1", &[&name])
            .await
            .map_err(|e| failed("reading what the nodes agree on", e))?;
        Ok(row.get(0))
    }

    /// Gives up this node's leases at once (a clean stop).
    pub async fn release_leases(&self) -> Result<(), StoreError> {
        self.ask(|reply| Op::ReleaseLeases { reply }).await
    }

    /// The nodes, who holds which operator, and the database's state; nodes silent for
    /// longer than `ttl` are shown as gone.
    pub async fn cluster_view(&self, ttl: Duration) -> Result<ClusterView, StoreError> {
        super::leases::view(&*self.inner.reads.get().await?, ttl).await
    }

    /// Appends an event (e.g. a reply) to the log, committed; its seq.
    pub async fn append_event(&self, event: Event) -> Result<u64, StoreError> {
        self.ask(|reply| Op::AppendEvent { event, reply }).await
    }

    /// Deletes up to `limit` events every subscriber has acknowledged and events older than
    /// the event retention; how many.
    pub async fn trim_events(&self, now: Millis, limit: usize) -> Result<usize, StoreError> {
        let before = now - self.inner.keep_events_ms;
        let n = self
            .inner
            .reads
            .get()
            .await?
            .execute(
                "DELETE FROM events WHERE seq IN (
                     SELECT seq FROM events
                     WHERE seq <= (SELECT min(seq) FROM cursors) OR at < $1
                     ORDER BY seq LIMIT $2)",
                &[&before, &(limit as i64)],
            )
            .await
            .map_err(|e| failed("trimming events", e))?;
        Ok(n as usize)
    }

    /// Drops up to `limit` receipts parked before `before`: they matched no message within
    /// their hold.
    pub async fn drop_parked_receipts(
        &self,
        before: Millis,
        limit: usize,
    ) -> Result<DroppedReceipts, StoreError> {
        let rows = self
            .inner
            .reads
            .get()
            .await?
            .query(
                "DELETE FROM parked_receipts WHERE (operator, operator_id) IN (
                     SELECT operator, operator_id FROM parked_receipts
                     WHERE parked_at < $1 LIMIT $2)
                 RETURNING operator",
                &[&before, &(limit as i64)],
            )
            .await
            .map_err(|e| failed("dropping parked receipts", e))?;
        let mut dropped = DroppedReceipts::default();
        for row in &rows {
            *dropped.by_operator.entry(row.get(0)).or_default() += 1;
        }
        // the limit reached: there may be more
        dropped.more = rows.len() == limit;
        Ok(dropped)
    }

    /// The due time of the earliest queued message of a kind's lane (it may lie in the future).
    pub async fn lane_head(&self, kind: Kind) -> Result<Option<Millis>, StoreError> {
        Ok(self.lane_heads().await?[kind.lane() as usize])
    }

    /// [`PgStore::lane_head`] of the four lanes, by lane, in one statement.
    pub async fn lane_heads(&self) -> Result<[Option<Millis>; 4], StoreError> {
        let row = self
            .inner
            .reads
            .get()
            .await?
            .query_one(
                "SELECT (SELECT min(next_try) FROM messages WHERE state = 'queued' AND lane = 0),
                        (SELECT min(next_try) FROM messages WHERE state = 'queued' AND lane = 1),
                        (SELECT min(next_try) FROM messages WHERE state = 'queued' AND lane = 2),
                        (SELECT min(next_try) FROM messages WHERE state = 'queued' AND lane = 3)",
                &[],
            )
            .await
            .map_err(|e| failed("reading the lanes' heads", e))?;
        Ok([row.get(0), row.get(1), row.get(2), row.get(3)])
    }

    /// The earliest deadline still to fire, of any message.
    pub async fn next_deadline(&self) -> Result<Option<Millis>, StoreError> {
        let row = self
            .inner
            .reads
            .get()
            .await?
            .query_one("SELECT min(deadline) FROM messages", &[])
            .await
            .map_err(|e| failed("reading the next deadline", e))?;
        Ok(row.get(0))
    }

    /// The seq to read events after so that the first one read is the first stamped `at` or
    /// later.
    pub async fn events_since(&self, at: Millis) -> Result<u64, StoreError> {
        let row = self
            .inner
            .reads
            .get()
            .await?
            .query_one(
                "SELECT coalesce(max(seq), 0) FROM events WHERE at < $1",
                &[&at],
            )
            .await
            .map_err(|e| failed("finding events by time", e))?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    /// The first `limit` queued messages of `kind`'s lane with their due times, in the order
    /// they will be claimed.
    pub async fn queued_head(
        &self,
        kind: Kind,
        limit: usize,
    ) -> Result<Vec<(Millis, Message)>, StoreError> {
        let rows = self
            .inner
            .reads
            .get()
            .await?
            .query(
                "SELECT next_try, record FROM messages WHERE state = 'queued' AND lane = $1
                 ORDER BY next_try, id LIMIT $2",
                &[&i16::from(kind.lane()), &(limit as i64)],
            )
            .await
            .map_err(|e| failed("reading a lane's head", e))?;
        rows.iter()
            .map(|r| Ok((r.get(0), codec::decode_record(r.get(1))?)))
            .collect()
    }

    /// Up to `limit` messages some node handed to a session and has not seen acknowledged
    /// (`submitting`), in id order.
    pub async fn in_flight(&self, limit: usize) -> Result<Vec<Message>, StoreError> {
        let rows = self
            .inner
            .reads
            .get()
            .await?
            .query(
                "SELECT record FROM messages WHERE state = 'submitting' ORDER BY id LIMIT $1",
                &[&(limit as i64)],
            )
            .await
            .map_err(|e| failed("reading the messages in flight", e))?;
        rows.iter()
            .map(|r| codec::decode_record(r.get(0)))
            .collect()
    }

    /// Every message that awaits its receipt or whose receipt is overdue.
    pub async fn awaiting_receipts(&self) -> Result<Vec<AwaitingReceipt>, StoreError> {
        let rows = self
            .inner
            .reads
            .get()
            .await?
            .query(
                "SELECT record FROM messages WHERE finished_at IS NULL
                 AND (state = 'submitted' OR deadline IS NOT NULL)",
                &[],
            )
            .await
            .map_err(|e| failed("reading the messages awaiting receipts", e))?;
        let mut found = Vec::new();
        for row in rows {
            let message = codec::decode_record(row.get(0))?;
            let overdue = message.extra.receipt_overdue_at.and(message.receipt_by);
            let submitted = message.state == crate::message::State::Submitted;
            if submitted || overdue.is_some() {
                found.push(AwaitingReceipt {
                    id: message.id,
                    kind: message.kind,
                    submitted,
                    overdue,
                });
            }
        }
        Ok(found)
    }

    /// Whether the database holds the message.
    pub async fn holds(&self, id: MessageId) -> Result<bool, StoreError> {
        let row = self
            .inner
            .reads
            .get()
            .await?
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM messages WHERE id = $1)",
                &[&(id.0 as i64)],
            )
            .await
            .map_err(|e| failed("looking for a message", e))?;
        Ok(row.get(0))
    }

    /// Bytes the database takes on disk (khabar's tables and indexes).
    pub async fn size_on_disk(&self) -> Result<u64, StoreError> {
        let row = self
            .inner
            .reads
            .get()
            .await?
            .query_one("SELECT pg_database_size(current_database())", &[])
            .await
            .map_err(|e| failed("reading the database's size", e))?;
        Ok(row.get::<_, i64>(0) as u64)
    }
}
