//! One simulated operator: its listener (plain TCP, or TLS when configured), account,
//! counters, fault switches, bound sessions and the work a submit_sm sets off (message store,
//! query state, receipt, subscriber reply).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use crate::config::{OperatorConfig, ReceiptConfig, ReplyRule};
use crate::delivery::{Delivery, Kind, Outbound, Pending};
use crate::error::SimError;
use crate::faults::FaultSettings;
use crate::links::Links;
use crate::message_id::MessageIds;
use crate::stats::Counters;
use crate::store::MessageStore;
use crate::text::mask_number;
use crate::told::Told;
use crate::tracker::{QueryAnswer, Tracker};
use crate::{mo, session, tls};

mod accept;

/// How long a new connection to a TLS port may take to finish its handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// State shared by all operators of one simulator.
#[derive(Debug)]
pub(crate) struct Shared {
    pub store: MessageStore,
    pub ids: MessageIds,
    pub replies: RwLock<Arc<Vec<ReplyRule>>>,
    pub test_numbers: bool,
    pub max_pdu_length: usize,
    pub max_messages: usize,
    pub stop: CancellationToken,
    pub tasks: TaskTracker,
    mo_reference: AtomicU8,
}

impl Shared {
    pub fn new(config: &crate::SimConfig) -> Self {
        Self {
            store: MessageStore::new(config.max_messages),
            ids: MessageIds::new(),
            replies: RwLock::new(Arc::new(config.replies.clone())),
            test_numbers: config.test_numbers,
            max_pdu_length: config.max_pdu_length,
            max_messages: config.max_messages,
            stop: CancellationToken::new(),
            tasks: TaskTracker::new(),
            mo_reference: AtomicU8::new(0),
        }
    }

    pub fn replies(&self) -> Arc<Vec<ReplyRule>> {
        self.replies.read().map(|r| r.clone()).unwrap_or_default()
    }
}

/// One running operator.
#[derive(Debug)]
pub(crate) struct Operator {
    pub name: Arc<str>,
    pub system_id: String,
    pub password: String,
    pub max_binds: usize,
    pub addr: SocketAddr,
    /// Whether the port speaks SMPP over TLS.
    pub tls: bool,
    pub counters: Counters,
    pub faults: watch::Sender<FaultSettings>,
    pub receipts: watch::Sender<ReceiptConfig>,
    pub delivery: Arc<Delivery>,
    pub sim: Arc<Shared>,
    pub links: Links,
    tracker: Mutex<Tracker>,
    told: Mutex<Told>,
}

impl Operator {
    /// Loads the TLS certificate and key if any, binds the listening socket and starts
    /// accepting connections.
    pub async fn start(
        config: &OperatorConfig,
        host: std::net::IpAddr,
        receipts: ReceiptConfig,
        sim: Arc<Shared>,
    ) -> Result<Arc<Self>, SimError> {
        let acceptor = match &config.tls {
            Some(files) => Some(tls::acceptor(&config.name, files)?),
            None => None,
        };
        let wanted = SocketAddr::new(host, config.port);
        let listener = TcpListener::bind(wanted)
            .await
            .map_err(|source| SimError::Listen {
                addr: wanted,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SimError::Listen {
            addr: wanted,
            source,
        })?;
        let operator = Arc::new(Self {
            name: Arc::from(config.name.as_str()),
            system_id: config.system_id().to_string(),
            password: config.password.clone(),
            max_binds: config.max_binds,
            addr,
            tls: acceptor.is_some(),
            counters: Counters::default(),
            faults: watch::channel(config.faults.clone()).0,
            receipts: watch::channel(receipts).0,
            delivery: Delivery::start(&sim.tasks, sim.stop.clone()),
            tracker: Mutex::new(Tracker::new(sim.max_messages)),
            told: Mutex::new(Told::new(sim.max_messages)),
            links: Links::default(),
            sim: sim.clone(),
        });
        sim.tasks
            .spawn(accept_loop(listener, acceptor, operator.clone()));
        info!(operator = %config.name, %addr, system_id = %operator.system_id, tls = operator.tls, "operator listening");
        Ok(operator)
    }

    fn tracker(&self) -> MutexGuard<'_, Tracker> {
        self.tracker.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes one of the account's bind slots; false when all `max_binds` are in use.
    pub fn take_bind_slot(&self) -> bool {
        self.counters
            .binds_current
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max_binds as u64).then_some(n + 1)
            })
            .is_ok()
    }

    /// Gives a bind slot back.
    pub fn release_bind_slot(&self) {
        self.counters.binds_current.fetch_sub(1, Ordering::AcqRel);
    }

    /// Whether this bind attempt is one of the `refuse_binds` to refuse; takes one off. The
    /// count lives in the fault switches and changes under their lock, so two binds racing
    /// cannot both take the last refusal.
    pub fn take_bind_refusal(&self) -> bool {
        self.faults.send_if_modified(|f| {
            let refuse = f.refuse_binds > 0;
            if refuse {
                f.refuse_binds -= 1;
            }
            refuse
        })
    }

    /// Answers query_sm for `message_id`.
    pub fn query(&self, message_id: &str) -> Option<QueryAnswer> {
        let counter = self.sim.ids.counter_of(message_id)?;
        self.tracker().query(counter)
    }

    /// Queues a mobile-originated message from `from` to `to` after `delay`; returns the
    /// number of deliver_sm parts.
    pub fn inject_mo(
        &self,
        from: &str,
        to: &str,
        body: &str,
        delay: Duration,
    ) -> Result<usize, SimError> {
        let reference = self.sim.mo_reference.fetch_add(1, Ordering::Relaxed);
        let pdus = mo::build(from, to, body, reference).map_err(SimError::InvalidMo)?;
        let parts = pdus.len();
        for pdu in pdus {
            Counters::bump(&self.counters.mo_scheduled);
            self.delivery
                .schedule(Pending::Ready(Outbound::new(Kind::Mo, &pdu)), delay);
        }
        debug!(operator = %self.name, from = %mask_number(from), parts, "MO queued");
        Ok(parts)
    }
}

async fn accept_loop(listener: TcpListener, tls: Option<TlsAcceptor>, operator: Arc<Operator>) {
    let stop = operator.sim.stop.clone();
    loop {
        let accepted = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                if operator.faults.borrow().down {
                    Counters::bump(&operator.counters.connections_dropped);
                    drop(stream);
                    continue;
                }
                debug!(operator = %operator.name, %peer, "connection");
                let _ = stream.set_nodelay(true);
                let tasks = &operator.sim.tasks;
                match &tls {
                    None => tasks.spawn(session::run_tcp(stream, operator.clone())),
                    Some(acceptor) => {
                        tasks.spawn(serve_tls(acceptor.clone(), stream, peer, operator.clone()))
                    }
                };
            }
            Err(e) => {
                warn!(operator = %operator.name, error = %e, "accept failed");
                tokio::time::sleep_until((Instant::now() + Duration::from_millis(50)).into()).await;
            }
        }
    }
}

/// Completes the TLS handshake of a connection to a TLS port (in its own task, so a slow
/// client holds up no other), then serves it; a failed handshake is counted and closes it.
async fn serve_tls(acceptor: TlsAcceptor, stream: TcpStream, peer: SocketAddr, op: Arc<Operator>) {
    let stop = op.sim.stop.clone();
    let handshake = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream));
    let accepted = tokio::select! {
        _ = stop.cancelled() => return,
        accepted = handshake => accepted,
    };
    let why = match accepted {
        Ok(Ok(stream)) => return session::run_tls(stream, op).await,
        Ok(Err(e)) => e.to_string(),
        Err(_) => format!("no handshake within {TLS_HANDSHAKE_TIMEOUT:?}"),
    };
    Counters::bump(&op.counters.tls_handshake_failures);
    info!(operator = %op.name, %peer, error = %why, "TLS handshake failed; connection closed");
}
