//! Operator sessions: SMPP binds per operator, their windows, rate caps and health.
//!
//! The sending stage puts [`Job`]s on an operator's queue; that operator's binds submit them
//! within their windows and under its TPS cap, and report a [`JobOutcome`] per job. Every
//! deliver_sm goes to the receipts stage as an [`Incoming`] and is answered only once stored.

pub mod bind;
pub mod config;
pub mod health;
pub mod job;
pub mod link;
pub mod status_codes;
mod submit;
pub mod tls;
pub mod window;

pub use config::OperatorConfig;
pub use health::{OperatorHealth, OperatorSnapshot};
pub use job::{Incoming, Job, JobOutcome, PartResult};
pub use link::JobQueue;

use bind::{BindTask, Role};
use config::BindMode;
use link::OperatorLink;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Where to reach one operator (the daemon resolves `embedded` to the simulator's port).
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// The operator's settings.
    pub config: OperatorConfig,
    /// Host to connect to.
    pub host: String,
    /// Port to connect to.
    pub port: u16,
    /// In cluster mode, whether this node holds the operator's lease: its binds connect only
    /// while it says `true` and unbind when it turns `false`. `None`: always bind.
    pub lease: Option<watch::Receiver<bool>>,
}

/// A handle to one operator: its job queue and health.
#[derive(Clone)]
pub struct OperatorHandle {
    /// Jobs for this operator's binds (urgent ones first).
    pub jobs: JobQueue,
    /// Live state.
    pub health: Arc<OperatorHealth>,
    /// Settings.
    pub config: Arc<OperatorConfig>,
}

/// Every operator's binds, running.
pub struct SessionPool {
    operators: BTreeMap<String, OperatorHandle>,
    tasks: JoinSet<()>,
    shutdown: CancellationToken,
}

impl SessionPool {
    /// Starts every bind of every operator; they connect in the background.
    pub fn start(
        endpoints: Vec<Endpoint>,
        outcomes: mpsc::Sender<JobOutcome>,
        incoming: mpsc::Sender<Incoming>,
    ) -> Result<Self, String> {
        let shutdown = CancellationToken::new();
        let mut tasks = JoinSet::new();
        let mut operators = BTreeMap::new();
        for ep in endpoints {
            let password = ep.config.resolve_password()?;
            let tls = match (&ep.config.tls, &ep.config.ca_file) {
                (true, Some(ca)) => Some(
                    crate::tls::client_config(Some(ca))
                        .map_err(|e| format!("operator {}: {e}", ep.config.name))?,
                ),
                _ => None,
            };
            let roles: Vec<Role> = match ep.config.bind_mode {
                BindMode::Transceiver => vec![Role::Transceiver; ep.config.binds as usize],
                BindMode::TransmitterReceiver => (0..ep.config.binds)
                    .flat_map(|_| [Role::Transmitter, Role::Receiver])
                    .collect(),
            };
            let (link, jobs) = OperatorLink::new(
                ep.config.clone(),
                &ep.host,
                ep.port,
                password,
                tls,
                ep.lease,
            );
            for (index, role) in roles.into_iter().enumerate() {
                let task = BindTask {
                    link: link.clone(),
                    index,
                    role,
                    outcomes: outcomes.clone(),
                    incoming: incoming.clone(),
                    shutdown: shutdown.clone(),
                };
                tasks.spawn(task.run());
            }
            operators.insert(
                ep.config.name.clone(),
                OperatorHandle {
                    jobs,
                    health: link.health.clone(),
                    config: Arc::new(ep.config),
                },
            );
        }
        Ok(SessionPool {
            operators,
            tasks,
            shutdown,
        })
    }

    /// The operator named `name`.
    pub fn operator(&self, name: &str) -> Option<&OperatorHandle> {
        self.operators.get(name)
    }

    /// Every operator, by name.
    pub fn operators(&self) -> impl Iterator<Item = (&String, &OperatorHandle)> {
        self.operators.iter()
    }

    /// Health of every operator, for status.
    pub fn snapshot(&self) -> Vec<OperatorSnapshot> {
        self.operators
            .values()
            .map(|o| o.health.snapshot())
            .collect()
    }

    /// Stops taking jobs, waits (bounded) for outstanding answers, unbinds every session.
    pub async fn shutdown(mut self) {
        self.shutdown.cancel();
        while self.tasks.join_next().await.is_some() {}
    }
}
