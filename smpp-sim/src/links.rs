//! The bound sessions of one operator, so the handle can reach them (unbind, inject), with
//! the times of the operator's binds and the log of injected PDUs.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::mpsc;

use crate::inject::{InjectLog, InjectPdu, Injected, UNSOLICITED_SEQUENCE_BASE};
use crate::session::Control;

/// Bind times kept per operator (the oldest forgotten first).
const MAX_BIND_TIMES: usize = 1_000;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One bound session.
#[derive(Debug)]
struct Link {
    receives: bool,
    control: mpsc::UnboundedSender<Control>,
}

/// Registry of one operator's bound sessions.
#[derive(Debug, Default)]
pub(crate) struct Links {
    sessions: Mutex<HashMap<u64, Link>>,
    next_id: AtomicU64,
    bind_times: Mutex<VecDeque<Instant>>,
    injected: Mutex<InjectLog>,
    unsolicited: AtomicU32,
}

impl Links {
    /// An id for a new session.
    pub fn session_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Records a successful bind of session `id` (reachable from now on).
    pub fn bound(&self, id: u64, receives: bool, control: mpsc::UnboundedSender<Control>) {
        lock(&self.sessions).insert(id, Link { receives, control });
        let mut times = lock(&self.bind_times);
        times.push_back(Instant::now());
        while times.len() > MAX_BIND_TIMES {
            times.pop_front();
        }
    }

    /// Session `id` is gone.
    pub fn remove(&self, id: u64) {
        lock(&self.sessions).remove(&id);
    }

    /// Sends `make()` to every bound session (`receivers_only`: those that can receive);
    /// returns how many took it.
    pub fn broadcast(&self, receivers_only: bool, make: impl Fn() -> Control) -> usize {
        lock(&self.sessions)
            .values()
            .filter(|l| l.receives || !receivers_only)
            .filter(|l| l.control.send(make()).is_ok())
            .count()
    }

    /// When the operator's successful binds happened (the last 1,000), oldest first.
    pub fn bind_times(&self) -> Vec<Instant> {
        lock(&self.bind_times).iter().copied().collect()
    }

    /// A sequence number the ESME never used, for an unsolicited response.
    pub fn unsolicited_sequence(&self) -> u32 {
        let n = self.unsolicited.fetch_add(1, Ordering::Relaxed);
        UNSOLICITED_SEQUENCE_BASE + (n % 0x00FF_FFFF) + 1
    }

    /// Logs an injected PDU; the id answers go under.
    pub fn injected(&self, pdu: InjectPdu, sequence: u32) -> u64 {
        lock(&self.injected).add(pdu, sequence)
    }

    /// Records an ESME PDU carrying the sequence number of injected record `id`.
    pub fn answered(&self, id: u64, command_id: u32, status: u32) {
        lock(&self.injected).answer(id, command_id, status);
    }

    /// Every injected PDU with its answers, oldest first.
    pub fn log(&self) -> Vec<Injected> {
        lock(&self.injected).all()
    }
}
