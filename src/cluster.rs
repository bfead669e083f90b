//! Cluster mode's membership: this node's heartbeat and its operator leases. Several nodes
//! share one PostgreSQL store; for each operator exactly one of them holds the binds, so the
//! operator's TPS cap and windows hold cluster-wide. The [`LeaseKeeper`] renews this node's
//! leases every `heartbeat` and takes those another node let expire; each operator's binds
//! (`sessions`) follow its gate, a `watch` of "held". A node that cannot renew closes its gates
//! before its leases expire in the database, so that two nodes never bind an operator at once
//! by their own reckoning. On the embedded store there is one node and every gate stays open.

use crate::store::Store;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// `[cluster]`: how nodes share the operators' binds (cluster mode only).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// How often this node renews its heartbeat and leases.
    #[serde(with = "humantime_serde")]
    pub heartbeat: Duration,
    /// How long a lease holds without renewal: a node that stops (crash, lost machine) loses
    /// its operators to another node after this long, and what it had in flight is requeued.
    #[serde(with = "humantime_serde")]
    pub lease_ttl: Duration,
    /// The operators this node may bind (their SMSCs must accept its address); all the
    /// `[[operator]]`s of its config when left out. An empty list: this node never binds (it
    /// takes messages on its socket only).
    pub binds: Option<Vec<String>>,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            heartbeat: Duration::from_secs(1),
            lease_ttl: Duration::from_secs(5),
            binds: None,
        }
    }
}

/// Keeps this node's leases and opens or closes each operator's gate.
pub struct LeaseKeeper {
    store: Store,
    config: ClusterConfig,
    /// The operators this node may bind, and their gates.
    gates: BTreeMap<String, watch::Sender<bool>>,
}

impl LeaseKeeper {
    /// A keeper for `operators` (the names of this node's `[[operator]]`s), with every gate
    /// closed; the receivers go to the operators' binds. Fails on a `binds` entry naming no
    /// configured operator, or a lease time shorter than two heartbeats.
    #[allow(clippy::type_complexity)]
    pub fn new(
        store: Store,
        config: &ClusterConfig,
        operators: &[String],
    ) -> Result<(LeaseKeeper, BTreeMap<String, watch::Receiver<bool>>), String> {
        if config.lease_ttl < config.heartbeat * 2 {
            return Err(format!(
                "[cluster] lease_ttl ({:?}) must be at least two heartbeats ({:?} each)",
                config.lease_ttl, config.heartbeat
            ));
        }
        let allowed: Vec<String> = match &config.binds {
            Some(binds) => {
                if let Some(unknown) = binds.iter().find(|b| !operators.contains(b)) {
                    return Err(format!(
                        "[cluster] binds names {unknown:?}, which is not an [[operator]] here"
                    ));
                }
                binds.clone()
            }
            None => operators.to_vec(),
        };
        let mut gates = BTreeMap::new();
        let mut receivers = BTreeMap::new();
        for operator in operators {
            let (gate, receiver) = watch::channel(false);
            receivers.insert(operator.clone(), receiver);
            if allowed.contains(operator) {
                gates.insert(operator.clone(), gate);
            } // an operator this node may not bind: its gate's sender is dropped, closed for good
        }
        let keeper = LeaseKeeper {
            store,
            config: config.clone(),
            gates,
        };
        Ok((keeper, receivers))
    }

    /// Renews every `heartbeat` until `stop`; the gates follow what is held. A renewal that
    /// fails or takes longer than a heartbeat is tried again at the next one; once this node
    /// could not renew for `lease_ttl` less one heartbeat, every gate closes (before the
    /// database lets another node take the leases).
    pub async fn run(self, stop: CancellationToken) {
        let operators: Vec<String> = self.gates.keys().cloned().collect();
        let (heartbeat, ttl) = (self.config.heartbeat, self.config.lease_ttl);
        let mut first = true;
        let mut fence: Option<Instant> = None;
        // the silent nodes already logged (reported at every heartbeat until requeued)
        let mut silent: Vec<String> = Vec::new();
        while !stop.is_cancelled() {
            let sent = Instant::now();
            let renewal = self.store.renew_leases(operators.clone(), ttl, first);
            match tokio::time::timeout(heartbeat, renewal).await {
                Ok(Ok(report)) => {
                    first = false;
                    fence = Some(sent + ttl - heartbeat);
                    for (operator, from) in &report.taken {
                        let from = from.as_deref().unwrap_or("nobody");
                        tracing::info!(operator, from, "took the operator's lease: binding");
                    }
                    for node in report.gone.iter().filter(|n| !silent.contains(n)) {
                        tracing::warn!(
                            node,
                            "a node stopped answering: requeuing what it had in flight"
                        );
                    }
                    silent = report.gone;
                    for (operator, gate) in &self.gates {
                        let held = report.held.contains(operator);
                        if gate.send_replace(held) && !held {
                            tracing::warn!(
                                operator,
                                "another node holds the operator's lease now: unbinding"
                            );
                        }
                    }
                }
                Ok(Err(e)) => tracing::warn!(error = %e, "cannot renew the operator leases"),
                Err(_) => {
                    tracing::warn!("renewing the operator leases takes longer than a heartbeat")
                }
            }
            if fence.is_some_and(|at| Instant::now() >= at) {
                fence = None;
                tracing::error!(
                    "could not renew the operator leases in time: unbinding every operator"
                );
                for gate in self.gates.values() {
                    gate.send_replace(false);
                }
            }
            let next = sent + heartbeat;
            tokio::select! {
                _ = tokio::time::sleep_until(next) => {}
                _ = stop.cancelled() => {}
            }
        }
    }
}
