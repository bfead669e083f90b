//! Starting the simulator and controlling it from Rust: [`Simulator::start`] and [`SimHandle`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::config::{ReceiptConfig, ReplyRule, SimConfig};
use crate::delivery::{Kind, OwedDeliveries};
use crate::error::SimError;
use crate::faults::{Fault, FaultSettings};
use crate::operator::{Operator, Shared};
use crate::stats::{self, Counters, OperatorStats};
use crate::store::ReceivedMessage;
use crate::tracker::QueryAnswer;

/// Entry point: `Simulator::start(config).await` runs every configured operator.
#[derive(Debug)]
pub struct Simulator;

impl Simulator {
    /// Validates `config`, opens every operator's port (port 0 = ephemeral) and starts serving.
    /// Must run inside a tokio runtime; the work continues until [`SimHandle::shutdown`] or
    /// until the last handle is dropped.
    pub async fn start(config: SimConfig) -> Result<SimHandle, SimError> {
        config.validate()?;
        let shared = Arc::new(Shared::new(&config));
        let mut operators = Vec::with_capacity(config.operators.len());
        for op in &config.operators {
            let receipts = op
                .receipts
                .clone()
                .unwrap_or_else(|| config.receipts.clone());
            match Operator::start(op, config.host, receipts, shared.clone()).await {
                Ok(started) => operators.push(started),
                Err(e) => {
                    shared.stop.cancel();
                    return Err(e);
                }
            }
        }
        Ok(SimHandle {
            inner: Arc::new(Inner { shared, operators }),
        })
    }
}

#[derive(Debug)]
struct Inner {
    shared: Arc<Shared>,
    operators: Vec<Arc<Operator>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shared.stop.cancel();
    }
}

/// Where one operator listens and the account that binds to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorInfo {
    /// Operator name.
    pub name: String,
    /// The real listening address (ephemeral ports resolved).
    pub addr: SocketAddr,
    /// system_id to bind with.
    pub system_id: String,
    /// Password to bind with.
    pub password: String,
    /// Whether the port speaks SMPP over TLS (the operator has a `tls` table).
    pub tls: bool,
}

/// A running simulator. Cheap to clone; the simulator stops when [`shutdown`](Self::shutdown)
/// is called or the last clone is dropped.
#[derive(Debug, Clone)]
pub struct SimHandle {
    inner: Arc<Inner>,
}

impl SimHandle {
    pub(crate) fn operator(&self, name: &str) -> Result<&Arc<Operator>, SimError> {
        self.inner
            .operators
            .iter()
            .find(|o| &*o.name == name)
            .ok_or_else(|| SimError::UnknownOperator(name.to_string()))
    }

    /// Every operator with its real address and credentials, in configuration order.
    pub fn operators(&self) -> Vec<OperatorInfo> {
        self.inner
            .operators
            .iter()
            .map(|o| OperatorInfo {
                name: o.name.to_string(),
                addr: o.addr,
                system_id: o.system_id.clone(),
                password: o.password.clone(),
                tls: o.tls,
            })
            .collect()
    }

    /// The listening address of `operator`.
    pub fn addr(&self, operator: &str) -> Result<SocketAddr, SimError> {
        Ok(self.operator(operator)?.addr)
    }

    /// The listening port of `operator`.
    pub fn port(&self, operator: &str) -> Result<u16, SimError> {
        Ok(self.addr(operator)?.port())
    }

    /// Counters of every operator, in configuration order.
    pub fn stats(&self) -> Vec<OperatorStats> {
        self.inner
            .operators
            .iter()
            .map(|o| o.counters.snapshot(&o.name))
            .collect()
    }

    /// Counters of one operator.
    pub fn operator_stats(&self, operator: &str) -> Result<OperatorStats, SimError> {
        let o = self.operator(operator)?;
        Ok(o.counters.snapshot(&o.name))
    }

    /// The counters as a printable table (what SIGTERM prints).
    pub fn stats_report(&self) -> String {
        stats::report(&self.stats())
    }

    /// Every received message still held, oldest first (parts reassembled).
    pub fn messages(&self) -> Vec<ReceivedMessage> {
        self.inner.shared.store.messages()
    }

    /// The newest `n` messages, oldest first.
    pub fn last_messages(&self, n: usize) -> Vec<ReceivedMessage> {
        self.inner.shared.store.last(n)
    }

    /// Forgets received messages and incomplete concatenations (counters stay).
    pub fn clear_messages(&self) {
        self.inner.shared.store.clear();
    }

    /// Watch channel of how many messages are held (changes with every complete message).
    pub fn message_count(&self) -> watch::Receiver<usize> {
        self.inner.shared.store.held()
    }

    /// Waits until at least `n` messages are held, then returns them all (oldest first).
    pub async fn wait_for_messages(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<ReceivedMessage>, SimError> {
        let mut held = self.message_count();
        tokio::time::timeout(timeout, held.wait_for(|count| *count >= n))
            .await
            .map_err(|_| SimError::Timeout(timeout))?
            .map_err(|_| SimError::Control("simulator stopped".into()))?;
        Ok(self.messages())
    }

    /// Waits until `condition` holds for `operator`'s counters (polled every 10 ms).
    pub async fn wait_for_stats(
        &self,
        operator: &str,
        timeout: Duration,
        condition: impl Fn(&OperatorStats) -> bool,
    ) -> Result<OperatorStats, SimError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let stats = self.operator_stats(operator)?;
            if condition(&stats) {
                return Ok(stats);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(SimError::Timeout(timeout));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Sends a mobile-originated message from `from` to `to` through `operator`'s receiver
    /// binds (queued until one is bound). Returns the number of SMS parts.
    pub fn inject_mo(
        &self,
        operator: &str,
        from: &str,
        to: &str,
        text: &str,
    ) -> Result<usize, SimError> {
        self.operator(operator)?
            .inject_mo(from, to, text, Duration::ZERO)
    }

    /// What query_sm would answer for `message_id` on `operator`.
    pub fn query(&self, operator: &str, message_id: &str) -> Result<Option<QueryAnswer>, SimError> {
        Ok(self.operator(operator)?.query(message_id))
    }

    /// The current fault switches of `operator`.
    pub fn faults(&self, operator: &str) -> Result<FaultSettings, SimError> {
        Ok(self.operator(operator)?.faults.borrow().clone())
    }

    /// Replaces every fault switch of `operator`.
    pub fn set_faults(&self, operator: &str, faults: FaultSettings) -> Result<(), SimError> {
        faults.validate()?;
        self.operator(operator)?.faults.send_replace(faults);
        Ok(())
    }

    /// Changes some fault switches of `operator`.
    pub fn update_faults(
        &self,
        operator: &str,
        change: impl FnOnce(&mut FaultSettings),
    ) -> Result<(), SimError> {
        let mut faults = self.faults(operator)?;
        change(&mut faults);
        self.set_faults(operator, faults)
    }

    /// Applies one switch, as the control socket does.
    pub fn apply_fault(&self, operator: &str, fault: &Fault) -> Result<(), SimError> {
        self.update_faults(operator, |f| f.apply(fault))
    }

    /// Every fault of `operator` off.
    pub fn clear_faults(&self, operator: &str) -> Result<(), SimError> {
        self.set_faults(operator, FaultSettings::default())
    }

    /// `operator` stops reading and answering for `duration`.
    pub fn hang(&self, operator: &str, duration: Duration) -> Result<(), SimError> {
        self.apply_fault(operator, &Fault::Hang(duration))
    }

    /// `down = true` closes all of `operator`'s connections and refuses new ones (accepted
    /// and closed at once); `false` brings it back.
    pub fn set_down(&self, operator: &str, down: bool) -> Result<(), SimError> {
        self.update_faults(operator, |f| f.down = down)
    }

    /// Replaces `operator`'s receipt behaviour (delay, outcome mix, window) from now on.
    pub fn set_receipts(&self, operator: &str, receipts: ReceiptConfig) -> Result<(), SimError> {
        let probe = SimConfig {
            receipts: receipts.clone(),
            ..SimConfig::default()
        };
        probe.validate()?;
        self.operator(operator)?.receipts.send_replace(receipts);
        Ok(())
    }

    /// Replaces the simulated subscribers' reply rules.
    pub fn set_reply_rules(&self, rules: Vec<ReplyRule>) {
        if let Ok(mut current) = self.inner.shared.replies.write() {
            *current = Arc::new(rules);
        }
    }

    /// Stops every operator: listeners close, connections close, timers stop. Waits for the
    /// tasks to end. What the operators still owed stays in memory, for
    /// [`shutdown_and_take_pending`](Self::shutdown_and_take_pending).
    pub async fn shutdown(&self) {
        let shared = &self.inner.shared;
        shared.stop.cancel();
        shared.tasks.close();
        shared.tasks.wait().await;
    }

    /// Stops every operator as [`shutdown`](Self::shutdown) does, then takes every deliver_sm
    /// each operator still owes its ESME: receipts and MO not yet due, ready but not sent, and
    /// those binds had sent without an answer when they closed. The binds close and give back
    /// before this takes anything (it waits for every session and the timer tasks to end), so
    /// nothing owed is dropped. Operators that owe nothing are left out; a second call finds
    /// nothing. Receipts come out without their text excerpt ([`OwedDeliveries`]).
    pub async fn shutdown_and_take_pending(&self) -> Vec<OwedDeliveries> {
        self.shutdown().await;
        (self.inner.operators.iter())
            .map(|o| OwedDeliveries {
                operator: o.name.to_string(),
                items: o.delivery.take_owed(),
            })
            .filter(|owed| !owed.items.is_empty())
            .collect()
    }

    /// Puts deliver_sm that a previous simulator owed
    /// ([`shutdown_and_take_pending`](Self::shutdown_and_take_pending)) back into the operators
    /// of the same names, ready at once, behind anything already ready: each goes out as soon
    /// as a receiver is bound. They do not wait out what was left of their delay: the
    /// restart already took time, the ESME has been waiting for them since before it, and an
    /// SMSC that kept receipts while its ESME was away sends them when it binds again. The
    /// operators' `receipts_scheduled` / `mo_scheduled` counters count them.
    ///
    /// Returns what it could not put back: the items of operators this simulator does not
    /// have, and bodies that are not one whole deliver_sm (empty when all went back).
    pub fn restore_pending(&self, owed: Vec<OwedDeliveries>) -> Vec<OwedDeliveries> {
        let mut refused = Vec::new();
        for group in owed {
            let Ok(operator) = self.operator(&group.operator) else {
                refused.push(group);
                continue;
            };
            let mut items = Vec::with_capacity(group.items.len());
            let mut bad = Vec::new();
            for item in group.items {
                match item.into_outbound() {
                    Ok(outbound) => items.push(outbound),
                    Err((item, e)) => {
                        let operator = &group.operator;
                        tracing::warn!(%operator, error = %e, "an owed deliver_sm is not restored");
                        bad.push(item);
                    }
                }
            }
            let counters = &operator.counters;
            for item in &items {
                Counters::bump(match item.kind {
                    Kind::Receipt => &counters.receipts_scheduled,
                    Kind::Mo => &counters.mo_scheduled,
                });
            }
            operator.delivery.restore(items);
            if !bad.is_empty() {
                refused.push(OwedDeliveries {
                    operator: group.operator,
                    items: bad,
                });
            }
        }
        refused
    }
}
