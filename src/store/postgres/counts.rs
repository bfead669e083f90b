//! The cluster's counters for `khabar status`: each transaction adds its changes to its node's
//! own rows of `counts` (so two nodes never wait for each other's counter rows). A node knows
//! its own changes as it commits them, and reads the other nodes' every [`REFRESH`].

use super::failed;
use super::prepared::Prepare;
use super::reads::Reads;
use crate::message::{Kind, State};
use crate::store::counts::Counts;
use crate::store::error::StoreError;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio_postgres::{Client, GenericClient};

/// How often a node reads the other nodes' changes to the counters.
pub const REFRESH: Duration = Duration::from_secs(1);

/// Signed counts: (kind, state) → how many (a node's rows may go below zero: another node
/// finished a message it accepted).
#[derive(Clone, Default)]
pub struct Deltas(HashMap<(Kind, State), i64>);

impl Deltas {
    /// One more message of `kind` in `state`.
    pub fn add(&mut self, kind: Kind, state: State) {
        *self.0.entry((kind, state)).or_default() += 1;
    }

    /// One message of `kind` in `state` fewer (it was forgotten).
    pub fn remove(&mut self, kind: Kind, state: State) {
        *self.0.entry((kind, state)).or_default() -= 1;
    }

    /// One message of `kind` moved from `from` to `to`.
    pub fn moved(&mut self, kind: Kind, from: State, to: State) {
        if from != to {
            *self.0.entry((kind, from)).or_default() -= 1;
            *self.0.entry((kind, to)).or_default() += 1;
        }
    }

    fn merge(&mut self, other: &Deltas, sign: i64) {
        for (&key, &n) in &other.0 {
            *self.0.entry(key).or_default() += sign * n;
        }
    }

    /// Adds the changes to the rows of `node`'s connection `writer`, in `tx` (each of a
    /// node's writing connections has rows of its own, so that they never wait for each
    /// other's).
    pub async fn write(
        &self,
        tx: &(impl GenericClient + Sync),
        node: &str,
        writer: i16,
    ) -> Result<(), StoreError> {
        let changed: Vec<_> = self.0.iter().filter(|(_, n)| **n != 0).collect();
        if changed.is_empty() {
            return Ok(());
        }
        let kinds: Vec<&str> = changed.iter().map(|((k, _), _)| k.as_str()).collect();
        let states: Vec<&str> = changed.iter().map(|((_, s), _)| s.as_str()).collect();
        let ns: Vec<i64> = changed.iter().map(|(_, n)| **n).collect();
        tx.execute(
            &tx.prepared(
                "INSERT INTO counts (node, writer, kind, state, n)
             SELECT $1, $5, * FROM unnest($2::text[], $3::text[], $4::bigint[])
             ON CONFLICT (node, writer, kind, state) DO UPDATE SET n = counts.n + excluded.n",
            )
            .await?,
            &[&node, &kinds, &states, &ns, &writer],
        )
        .await
        .map_err(|e| failed("counting", e))?;
        Ok(())
    }
}

/// What a node knows of the counters.
#[derive(Default)]
pub struct Known {
    /// This node's rows, with every change it committed since.
    own: Deltas,
    /// The other nodes' rows, as last read.
    others: Deltas,
}

impl Known {
    /// Adds the changes of a transaction this node committed.
    pub fn committed(&mut self, deltas: &Deltas) {
        self.own.merge(deltas, 1);
    }

    /// The cluster's counters.
    pub fn counts(&self) -> Counts {
        let mut all = self.others.clone();
        all.merge(&self.own, 1);
        let mut counts = Counts::default();
        for (&(kind, state), &n) in &all.0 {
            counts.add_many(kind, state, n.max(0) as u64);
        }
        counts
    }
}

/// Every node's rows, split into `node`'s and the others'.
async fn read(client: &Client, node: &str) -> Result<(Deltas, Deltas), StoreError> {
    let rows = client
        .query(
            "SELECT node = $1, kind, state, sum(n)::bigint FROM counts GROUP BY 1, 2, 3",
            &[&node],
        )
        .await
        .map_err(|e| failed("reading the counters", e))?;
    let (mut own, mut others) = (Deltas::default(), Deltas::default());
    for row in rows {
        let kind = row
            .get::<_, String>(1)
            .parse::<Kind>()
            .map_err(StoreError::Corrupt)?;
        let state = row
            .get::<_, String>(2)
            .parse::<State>()
            .map_err(StoreError::Corrupt)?;
        let side = if row.get(0) { &mut own } else { &mut others };
        side.0.insert((kind, state), row.get(3));
    }
    Ok((own, others))
}

/// What `node` knows at its start: its own rows and the others'.
pub async fn start(client: &Client, node: &str) -> Result<Known, StoreError> {
    let (own, others) = read(client, node).await?;
    Ok(Known { own, others })
}

/// Reads the other nodes' rows into `known` every [`REFRESH`], until the store is dropped.
pub fn refresh(reads: Arc<Reads>, node: String, known: Weak<Mutex<Known>>) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(REFRESH).await;
            let Some(known) = known.upgrade() else {
                return;
            };
            let read = match reads.get().await {
                Ok(client) => read(&client, &node).await,
                Err(e) => Err(e),
            };
            match read {
                Ok((_, others)) => {
                    if let Ok(mut known) = known.lock() {
                        known.others = others;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot read the cluster's counters"),
            }
        }
    });
}
