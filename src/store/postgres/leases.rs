//! Operator leases and the nodes' heartbeats on the cluster engine. For each operator one node
//! at a time holds its binds: the `leases` row names it until `expires`; the holder renews it
//! with every heartbeat, and once it has expired (its node stopped renewing) any node allowed
//! to bind that operator takes it, with `epoch` + 1. A node whose heartbeat is older than the
//! lease time is gone: what it had claimed and not seen acknowledged (`submitting`) goes back
//! to the queue, as after its crash. Times are the database's clock, so the nodes' clocks need
//! not agree.

use super::committer::Committer;
use super::failed;
use super::recover::requeue_claimed_by;
use crate::message::Millis;
use crate::store::error::StoreError;
use crate::store::reports::{ClusterView, LeaseReport, LeaseView, NodeView};
use std::time::Duration;
use tokio_postgres::Client;

/// Records `node`'s heartbeat, renews the leases it holds among `operators` and takes those
/// expired, for `ttl`, on `client` (a connection of its own: a busy writer must not make a
/// node miss its heartbeat); the nodes silent for longer than `ttl` go in `gone` of the
/// report's caller, see [`gone`]. `first`: this process's first heartbeat (its start is
/// recorded).
pub async fn renew(
    client: &mut Client,
    node: &str,
    operators: &[String],
    ttl: Duration,
    first: bool,
) -> Result<LeaseReport, StoreError> {
    let ttl_s = ttl.as_secs_f64();
    let mut report = LeaseReport::default();
    let failed_here = |e| failed("renewing the leases", e);
    let tx = client.transaction().await.map_err(failed_here)?;
    tx.execute(
        "INSERT INTO nodes (name, started, heartbeat) VALUES ($1, now(), now())
         ON CONFLICT (name) DO UPDATE SET heartbeat = now(),
             started = CASE WHEN $2 THEN now() ELSE nodes.started END",
        &[&node, &first],
    )
    .await
    .map_err(failed_here)?;
    for operator in operators {
        let holder = tx
            .query_opt(
                "SELECT node, expires < now() FROM leases WHERE operator = $1 FOR UPDATE",
                &[operator],
            )
            .await
            .map_err(failed_here)?;
        let previous = match holder {
            Some(row) => {
                let (holder, expired): (String, bool) = (row.get(0), row.get(1));
                if holder != node && !expired {
                    continue; // another node holds it
                }
                (holder != node).then_some(Some(holder))
            }
            None => Some(None),
        };
        tx.execute(
            "INSERT INTO leases (operator, node, epoch, expires)
             VALUES ($1, $2, 1, now() + make_interval(secs => $3))
             ON CONFLICT (operator) DO UPDATE SET node = $2,
                 epoch = leases.epoch + CASE WHEN leases.node = $2 THEN 0 ELSE 1 END,
                 expires = excluded.expires",
            &[operator, &node, &ttl_s],
        )
        .await
        .map_err(failed_here)?;
        report.held.push(operator.clone());
        if let Some(from) = previous {
            report.taken.push((operator.clone(), from));
        }
    }
    tx.commit().await.map_err(failed_here)?;
    Ok(report)
}

/// The nodes other than `node` whose heartbeat is older than `ttl` and that still hold
/// messages in `submitting`.
pub async fn gone(client: &Client, node: &str, ttl: Duration) -> Result<Vec<String>, StoreError> {
    let rows = client
        .query(
            "SELECT name FROM nodes
             WHERE name <> $1 AND heartbeat < now() - make_interval(secs => $2)
             AND EXISTS (SELECT 1 FROM messages
                         WHERE state = 'submitting' AND claimed_by = nodes.name)",
            &[&node, &ttl.as_secs_f64()],
        )
        .await
        .map_err(|e| failed("finding nodes that stopped answering", e))?;
    Ok(rows.into_iter().map(|row| row.get(0)).collect())
}

/// Requeues what the `gone` nodes had in flight, as after their crash; how many.
pub async fn requeue_gone(
    w: &mut Committer,
    gone: &[String],
    now: Millis,
) -> Result<usize, StoreError> {
    let mut requeued = 0;
    for node in gone {
        requeued += requeue_claimed_by(w, node, None, now).await?;
    }
    Ok(requeued)
}

/// Gives up this node's leases at once (a clean stop), so another node need not wait for
/// them to expire.
pub async fn release(w: &mut Committer) -> Result<(), StoreError> {
    w.client
        .execute(
            "UPDATE leases SET expires = now() WHERE node = $1",
            &[&w.node],
        )
        .await
        .map_err(|e| failed("releasing the leases", e))?;
    Ok(())
}

/// The nodes, the leases and the database's state, read on `client`; a node silent for
/// longer than `ttl` is shown as gone.
pub async fn view(client: &Client, ttl: Duration) -> Result<ClusterView, StoreError> {
    let failed_here = |e| failed("reading the cluster's state", e);
    let ttl_ms = ttl.as_millis() as i64;
    let nodes = client
        .query(
            "SELECT name, (extract(epoch FROM now() - heartbeat) * 1000)::bigint
             FROM nodes ORDER BY name",
            &[],
        )
        .await
        .map_err(failed_here)?
        .into_iter()
        .map(|row| {
            let silent_ms: i64 = row.get(1);
            NodeView {
                name: row.get(0),
                silent_ms,
                alive: silent_ms <= ttl_ms,
            }
        })
        .collect();
    let leases = client
        .query(
            "SELECT operator, node, epoch, (extract(epoch FROM expires - now()) * 1000)::bigint
             FROM leases ORDER BY operator",
            &[],
        )
        .await
        .map_err(failed_here)?
        .into_iter()
        .map(|row| LeaseView {
            operator: row.get(0),
            node: row.get(1),
            epoch: row.get(2),
            expires_in_ms: row.get(3),
        })
        .collect();
    let database = client
        .query_one(
            "SELECT current_setting('server_version') || CASE WHEN pg_is_in_recovery()
                 THEN ', standby (read-only)' ELSE ', primary' END",
            &[],
        )
        .await
        .map_err(failed_here)?
        .get(0);
    Ok(ClusterView {
        nodes,
        leases,
        database,
    })
}
