//! One SMPP bind: connect, bind, submit within the window, pass deliver_sm on, reconnect.
//!
//! Built on rusmppc's managed connection (keep-alive, response timeouts, TLS); rusmppc leaves
//! reconnecting and window control to the caller, so both live here.

use crate::log_gate::{Repeated, note};
use crate::sessions::job::{Incoming, JobOutcome};
use crate::sessions::link::OperatorLink;
use crate::sessions::status_codes::{describe, status_name};
use crate::sessions::submit::{SubmitTask, feed};
use crate::sessions::tls;
use crate::sessions::window::Window;
use futures::StreamExt;
use rand::Rng;
use rusmpp::pdus::{BindReceiver, BindTransceiver, BindTransmitter, DeliverSm, DeliverSmResp};
use rusmpp::types::COctetString;
use rusmpp::values::InterfaceVersion;
use rusmpp::{CommandId, CommandStatus, Pdu};
use rusmppc::{Client, ConnectionBuilder, Event};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

/// The largest PDU read: room for a 64 KB `message_payload` with every other field (SMPP's
/// limit; rusmppc's default of 4,096 octets dropped the bind on a legal long deliver_sm).
pub const MAX_PDU_OCTETS: usize = 72 * 1024;

/// A session up this long is healthy again: the reconnect backoff starts over after it.
const STABLE_SESSION: Duration = Duration::from_secs(30);

const UNEXPECTED_RESPONSE: Repeated =
    Repeated::warn("a response no request waits for (late or unsolicited); dropped unanswered");
const MALFORMED: Repeated =
    Repeated::warn("a PDU whose body does not decode; answered generic_nack ESME_RINVCMDLEN");
const UNKNOWN_COMMAND: Repeated =
    Repeated::warn("an unknown or unsupported command; answered generic_nack ESME_RINVCMDID");

/// What a bind does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Submits and receives.
    Transceiver,
    /// Submits only.
    Transmitter,
    /// Receives only.
    Receiver,
}

impl Role {
    /// The name shown in status.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Transceiver => "transceiver",
            Role::Transmitter => "transmitter",
            Role::Receiver => "receiver",
        }
    }

    fn submits(self) -> bool {
        self != Role::Receiver
    }
}

/// Everything one bind task needs.
pub struct BindTask {
    /// The operator this bind belongs to.
    pub link: Arc<OperatorLink>,
    /// Its index among the operator's binds (for status).
    pub index: usize,
    /// What it does.
    pub role: Role,
    /// Where job results go.
    pub outcomes: mpsc::Sender<JobOutcome>,
    /// Where deliver_sm go.
    pub incoming: mpsc::Sender<Incoming>,
    /// Cancelled at shutdown.
    pub shutdown: CancellationToken,
}

/// Why a connected session ended.
enum Ended {
    Shutdown,
    Reconnect(String),
}

/// Why a session stops serving.
enum Stop {
    Shutdown,
    /// This node no longer holds the operator's lease (cluster mode).
    LeaseLost,
    /// The SMSC sent unbind with this sequence number (not answered yet).
    Unbound(u32),
    Lost(String),
}

impl BindTask {
    /// Keeps the bind up until shutdown, reconnecting with jittered exponential backoff.
    pub async fn run(self) {
        let cfg = &self.link.config;
        let mut delay = cfg.reconnect_min;
        loop {
            if self.shutdown.is_cancelled() || self.wait_for_lease().await {
                break;
            }
            match self.connect().await {
                Ok((client, events)) => {
                    info!(operator = %cfg.name, bind = self.index, role = self.role.as_str(), "bound");
                    let bound_at = tokio::time::Instant::now();
                    let ended = self.serve(client, events).await;
                    // A bind that dies soon after coming up (an SMSC that drops us at once,
                    // or a PDU that kills every session) keeps backing off further.
                    if bound_at.elapsed() >= STABLE_SESSION {
                        delay = cfg.reconnect_min;
                    }
                    match ended {
                        Ended::Shutdown => break,
                        Ended::Reconnect(why) => {
                            warn!(operator = %cfg.name, bind = self.index, %why, "session lost; reconnecting");
                            self.link.health.record_error(why);
                        }
                    }
                }
                Err(why) => {
                    warn!(operator = %cfg.name, bind = self.index, %why, "cannot bind");
                    self.link.health.record_error(why);
                }
            }
            let pause = jitter(delay);
            delay = (delay * 2).min(cfg.reconnect_max);
            if self.wait_to_reconnect(pause).await {
                break;
            }
        }
        self.link
            .health
            .set_bind(self.index, false, self.role.as_str(), None);
    }

    /// In cluster mode, waits until this node holds the operator's lease, handing back the
    /// jobs queued meanwhile. Returns true on shutdown, or when the lease keeper stopped (the
    /// daemon is stopping, or this node may never bind the operator).
    async fn wait_for_lease(&self) -> bool {
        let Some(mut lease) = self.link.lease.clone() else {
            return false;
        };
        if *lease.borrow_and_update() {
            return false;
        }
        let held = async move { lease.wait_for(|held| *held).await.is_err() };
        self.idle_until(held, "this node does not hold the operator's lease")
            .await
    }

    /// Sleeps before reconnecting, handing back queued jobs meanwhile. Returns true on
    /// shutdown.
    async fn wait_to_reconnect(&self, pause: Duration) -> bool {
        let slept = async move {
            tokio::time::sleep(pause).await;
            false
        };
        self.idle_until(slept, "operator down").await
    }

    /// Waits for `until` (its output: whether to stop), and meanwhile, while the whole
    /// operator is down, hands queued jobs back (`why`) so they can take a fallback route.
    /// Returns true on shutdown or when `until` says to stop.
    async fn idle_until(&self, until: impl Future<Output = bool>, why: &str) -> bool {
        tokio::pin!(until);
        loop {
            tokio::select! {
                _ = self.shutdown.cancelled() => return true,
                stop = &mut until => return stop,
                job = self.link.next_job(), if self.role.submits() && !self.link.health.can_submit() => {
                    self.report(JobOutcome::not_sent(job, &self.link.name, why)).await;
                }
            }
        }
    }

    async fn connect(
        &self,
    ) -> Result<(Client, impl futures::Stream<Item = Event> + Unpin), String> {
        let cfg = &self.link.config;
        let builder = ConnectionBuilder::new()
            .max_command_length(MAX_PDU_OCTETS)
            .enquire_link_interval(cfg.enquire_link_interval)
            .enquire_link_response_timeout(cfg.response_timeout)
            .response_timeout(cfg.response_timeout)
            .disable_interface_version_check();
        let builder = match &self.link.tls {
            Some(tls) => builder.rustls_config(tls.clone()),
            None => builder,
        };
        let connecting = builder.connect(&self.link.url);
        let (client, events) = tokio::time::timeout(cfg.response_timeout, connecting)
            .await
            .map_err(|_| format!("connect to {} timed out", self.link.address))?
            .map_err(|e| {
                let why = tls::handshake_failure(&e, cfg.ca_file.as_deref())
                    .unwrap_or_else(|| e.to_string());
                format!("connect to {}: {why}", self.link.address)
            })?;
        let system_id = COctetString::from_str(&cfg.system_id)
            .map_err(|e| format!("system_id {:?}: {e}", cfg.system_id))?;
        let password = COctetString::from_str(self.link.password.expose())
            .map_err(|_| "the password is longer than SMPP allows (8)".to_string())?;
        let system_type = COctetString::from_str(&cfg.system_type)
            .map_err(|e| format!("system_type {:?}: {e}", cfg.system_type))?;
        let bound = match self.role {
            Role::Transceiver => client
                .bind_transceiver(
                    BindTransceiver::builder()
                        .system_id(system_id)
                        .password(password)
                        .system_type(system_type)
                        .interface_version(InterfaceVersion::Smpp3_4)
                        .build(),
                )
                .await
                .map(drop),
            Role::Transmitter => client
                .bind_transmitter(
                    BindTransmitter::builder()
                        .system_id(system_id)
                        .password(password)
                        .system_type(system_type)
                        .interface_version(InterfaceVersion::Smpp3_4)
                        .build(),
                )
                .await
                .map(drop),
            Role::Receiver => client
                .bind_receiver(
                    BindReceiver::builder()
                        .system_id(system_id)
                        .password(password)
                        .system_type(system_type)
                        .interface_version(InterfaceVersion::Smpp3_4)
                        .build(),
                )
                .await
                .map(drop),
        };
        if let Err(e) = bound {
            let _ = client.close().await;
            return Err(format!("bind refused: {}", describe(&e)));
        }
        Ok((client, events))
    }

    async fn serve(
        &self,
        client: Client,
        mut events: impl futures::Stream<Item = Event> + Unpin,
    ) -> Ended {
        let window = Window::new(self.link.config.window);
        let submits = self.role.submits();
        self.link.health.set_bind(
            self.index,
            true,
            self.role.as_str(),
            submits.then(|| window.clone()),
        );
        let (hung_tx, mut hung_rx) = mpsc::channel::<String>(1);
        // submits are fed by a task of their own, so a burst of deliver_sm never holds an
        // OTP back from a free place in the window
        let ending = CancellationToken::new();
        let feeder = submits.then(|| {
            tokio::spawn(feed(SubmitTask {
                link: self.link.clone(),
                client: client.clone(),
                window: window.clone(),
                outcomes: self.outcomes.clone(),
                hung: hung_tx.clone(),
                ending: ending.clone(),
            }))
        });
        let mut lease = self.link.lease.clone();
        let lease_lost = async move {
            match lease.as_mut() {
                Some(lease) => drop(lease.wait_for(|held| !held).await),
                None => std::future::pending().await,
            }
        };
        tokio::pin!(lease_lost);
        let stop = loop {
            tokio::select! {
                biased;
                _ = self.shutdown.cancelled() => break Stop::Shutdown,
                _ = &mut lease_lost => break Stop::LeaseLost,
                Some(why) = hung_rx.recv() => break Stop::Lost(why),
                event = events.next() => match event {
                    None => break Stop::Lost("connection closed".into()),
                    Some(Event::Error(e)) => {
                        debug!(operator = %self.link.name, error = %e, "connection event");
                        self.link.health.record_error(describe(&e));
                    }
                    Some(Event::Incoming(command)) => {
                        if let Some(stop) = self.on_incoming(&client, command).await {
                            break stop;
                        }
                    }
                },
            }
        };
        ending.cancel();
        if let Some(feeder) = feeder {
            feeder.abort();
            let _ = feeder.await;
        }
        self.link
            .health
            .set_bind(self.index, false, self.role.as_str(), None);
        let ended = match stop {
            // Another node may bind in our place: the answers to what is outstanding still
            // come (a part the operator accepted must not go again), then we unbind.
            Stop::Shutdown | Stop::LeaseLost => {
                let unbound = self.drain(&client, &window, &mut events).await;
                if unbound.is_none() {
                    let limit = self.link.config.response_timeout;
                    let _ = tokio::time::timeout(limit, client.unbind()).await;
                }
                info!(operator = %self.link.name, bind = self.index, "unbound");
                match stop {
                    Stop::LeaseLost => {
                        Ended::Reconnect("this node lost the operator's lease".into())
                    }
                    _ => Ended::Shutdown,
                }
            }
            // The SMSC unbinds: the answers to what is outstanding still come (a part it
            // accepted must not go again), then it gets its unbind_resp.
            Stop::Unbound(seq) => {
                let _ = self.drain(&client, &window, &mut events).await;
                let _ = client.unbind_resp(seq).await;
                Ended::Reconnect("the operator unbound".into())
            }
            Stop::Lost(why) => Ended::Reconnect(why),
        };
        let _ = client.close().await;
        ended
    }

    /// Waits, bounded by the response timeout, for the answers to the submits outstanding,
    /// answering deliver_sm meanwhile. Returns the sequence number of an unbind the SMSC
    /// sent in that time (already answered).
    async fn drain(
        &self,
        client: &Client,
        window: &Arc<Window>,
        events: &mut (impl futures::Stream<Item = Event> + Unpin),
    ) -> Option<u32> {
        let deadline = tokio::time::Instant::now() + self.link.config.response_timeout;
        while window.outstanding() > 0 {
            let tick = tokio::time::sleep(Duration::from_millis(20));
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => return None,
                _ = tick => {}
                event = events.next() => match event {
                    None => return None,
                    Some(Event::Incoming(command)) => {
                        if let Some(Stop::Unbound(seq)) = self.on_incoming(client, command).await {
                            let _ = client.unbind_resp(seq).await;
                            return Some(seq);
                        }
                    }
                    Some(Event::Error(_)) => {}
                },
            }
        }
        None
    }

    /// Answers one PDU the SMSC sent (other than the responses rusmppc matched to our
    /// requests); `Some` when the session ends with it.
    async fn on_incoming(&self, client: &Client, command: rusmpp::Command) -> Option<Stop> {
        let seq = command.sequence_number();
        let id = command.id();
        let (_, status, _, pdu) = command.into_parts().raw();
        match (id, pdu) {
            (CommandId::DeliverSm, Some(Pdu::DeliverSm(pdu))) => {
                self.on_deliver_sm(client, seq, pdu).await
            }
            (CommandId::Unbind, _) => return Some(Stop::Unbound(seq)),
            // the connection answers enquire_link itself
            (CommandId::EnquireLink, _) => {}
            (CommandId::GenericNack, _) => {
                let why = format!("generic_nack {} from the SMSC", status_name(status));
                self.link.health.record_error(why);
            }
            // SMPP never answers a response: one nobody waits for (late, or unsolicited) is
            // dropped.
            (id, _) if id.is_response() => {
                let name = &self.link.name;
                note(
                    &UNEXPECTED_RESPONSE,
                    || warn!(operator = %name, ?id, seq, "{}", UNEXPECTED_RESPONSE.what),
                );
            }
            // framing intact, body not decodable (rusmppc hands it on as `Other`)
            (id, Some(Pdu::Other { .. })) if !matches!(id, CommandId::Other(_)) => {
                let name = &self.link.name;
                note(
                    &MALFORMED,
                    || warn!(operator = %name, ?id, seq, "{}", MALFORMED.what),
                );
                let _ = client
                    .status(CommandStatus::EsmeRinvcmdlen)
                    .generic_nack(seq)
                    .await;
            }
            _ => {
                let name = &self.link.name;
                note(
                    &UNKNOWN_COMMAND,
                    || warn!(operator = %name, ?id, seq, "{}", UNKNOWN_COMMAND.what),
                );
                let _ = client
                    .status(CommandStatus::EsmeRinvcmdid)
                    .generic_nack(seq)
                    .await;
            }
        }
        None
    }

    /// Hands a deliver_sm to the receipts stage; answers it once that stage has stored it.
    async fn on_deliver_sm(&self, client: &Client, seq: u32, pdu: DeliverSm) {
        let (stored_tx, stored_rx) = tokio::sync::oneshot::channel();
        let incoming = Incoming {
            operator: self.link.name.clone(),
            pdu,
            stored: stored_tx,
        };
        if self.incoming.send(incoming).await.is_err() {
            return;
        }
        let client = client.clone();
        tokio::spawn(async move {
            let ok = stored_rx.await.unwrap_or(false);
            let status = if ok {
                CommandStatus::EsmeRok
            } else {
                CommandStatus::EsmeRxTAppn
            };
            let _ = client
                .status(status)
                .deliver_sm_resp(seq, DeliverSmResp::default())
                .await;
        });
    }

    async fn report(&self, outcome: JobOutcome) {
        let _ = self.outcomes.send(outcome).await;
    }
}

/// Full jitter between half the delay and the delay, so binds don't reconnect in lockstep.
fn jitter(delay: Duration) -> Duration {
    let ms = delay.as_millis().max(2) as u64;
    Duration::from_millis(rand::rng().random_range(ms / 2..=ms))
}
