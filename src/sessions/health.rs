//! Live state of each operator's binds, for routing decisions and `khabar status`.

use crate::message::{Millis, now_ms};
use crate::sessions::window::Window;
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// How many seconds of per-second counts are kept.
const RATE_SECONDS: usize = 60;

/// Counts events per wall-clock second over the last minute.
#[derive(Debug)]
pub struct RateMeter {
    slots: Mutex<[(i64, u64); RATE_SECONDS]>,
}

impl Default for RateMeter {
    fn default() -> Self {
        RateMeter {
            slots: Mutex::new([(0, 0); RATE_SECONDS]),
        }
    }
}

impl RateMeter {
    /// Adds `n` events now.
    pub fn add(&self, n: u64) {
        let sec = now_ms() / 1000;
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let slot = &mut slots[(sec as usize) % RATE_SECONDS];
        if slot.0 != sec {
            *slot = (sec, 0);
        }
        slot.1 += n;
    }

    /// Events in the last complete second.
    pub fn last_second(&self) -> u64 {
        let sec = now_ms() / 1000 - 1;
        let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let slot = slots[(sec as usize) % RATE_SECONDS];
        if slot.0 == sec { slot.1 } else { 0 }
    }

    /// The busiest complete second of the last minute.
    pub fn peak(&self) -> u64 {
        let now = now_ms() / 1000;
        let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots
            .iter()
            .filter(|(s, _)| *s < now && now - *s <= RATE_SECONDS as i64)
            .map(|(_, n)| *n)
            .max()
            .unwrap_or(0)
    }
}

/// One bind's state.
#[derive(Debug, Default)]
struct BindState {
    up: bool,
    since: Millis,
    role: &'static str,
    window: Option<Arc<Window>>,
}

/// Everything `khabar status` shows about one operator, kept up to date by its binds.
#[derive(Debug)]
pub struct OperatorHealth {
    name: String,
    tps_cap: u32,
    binds: Vec<Mutex<BindState>>,
    last_error: Mutex<Option<(Millis, String)>>,
    /// SMS parts accepted by the operator.
    pub parts_accepted: AtomicU64,
    /// Throttled and queue-full answers.
    pub throttled: AtomicU64,
    /// Parts sent without an answer (response timeout, connection lost): they are sent
    /// again, so the operator may have them twice.
    pub unanswered: AtomicU64,
    /// Parts sent per second.
    pub rate: RateMeter,
}

/// A point-in-time copy of one bind's state.
#[derive(Clone, Debug, Serialize)]
pub struct BindSnapshot {
    /// Whether the bind is up.
    pub up: bool,
    /// Since when it has been up or down.
    pub since: Millis,
    /// `transceiver`, `transmitter` or `receiver`.
    pub role: &'static str,
    /// Submits outstanding now.
    pub outstanding: u32,
    /// The window now (shrinks under throttling).
    pub window: u32,
}

/// A point-in-time copy of one operator's health.
#[derive(Clone, Debug, Serialize)]
pub struct OperatorSnapshot {
    /// Operator name.
    pub name: String,
    /// Each bind.
    pub binds: Vec<BindSnapshot>,
    /// Parts per second in the last complete second.
    pub tps_now: u64,
    /// Busiest second of the last minute.
    pub tps_peak: u64,
    /// The configured cap.
    pub tps_cap: u32,
    /// Parts accepted since start.
    pub parts_accepted: u64,
    /// Throttled/queue-full answers since start.
    pub throttled: u64,
    /// Parts sent again after no answer came (timeout, lost connection) since start.
    pub unanswered: u64,
    /// The last error and when.
    pub last_error: Option<(Millis, String)>,
}

impl OperatorHealth {
    /// Health for an operator with `binds` binds, all down.
    pub fn new(name: &str, binds: usize, tps_cap: u32) -> Arc<Self> {
        let now = now_ms();
        Arc::new(OperatorHealth {
            name: name.to_string(),
            tps_cap,
            binds: (0..binds)
                .map(|_| {
                    Mutex::new(BindState {
                        since: now,
                        ..BindState::default()
                    })
                })
                .collect(),
            last_error: Mutex::new(None),
            parts_accepted: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            unanswered: AtomicU64::new(0),
            rate: RateMeter::default(),
        })
    }

    /// The operator's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Marks bind `index` up (with its window, if it transmits) or down.
    pub fn set_bind(
        &self,
        index: usize,
        up: bool,
        role: &'static str,
        window: Option<Arc<Window>>,
    ) {
        if let Some(b) = self.binds.get(index) {
            let mut b = b.lock().unwrap_or_else(|p| p.into_inner());
            if b.up != up {
                b.since = now_ms();
            }
            b.up = up;
            b.role = role;
            b.window = window;
        }
    }

    /// Records an error (connect, bind, protocol) for status.
    pub fn record_error(&self, error: impl Into<String>) {
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some((now_ms(), error.into()));
    }

    /// True when at least one bind that can submit is up.
    pub fn can_submit(&self) -> bool {
        self.binds.iter().any(|b| {
            let b = b.lock().unwrap_or_else(|p| p.into_inner());
            b.up && b.role != "receiver"
        })
    }

    /// Binds up now.
    pub fn binds_up(&self) -> usize {
        self.binds
            .iter()
            .filter(|b| b.lock().unwrap_or_else(|p| p.into_inner()).up)
            .count()
    }

    /// A copy for status.
    pub fn snapshot(&self) -> OperatorSnapshot {
        OperatorSnapshot {
            name: self.name.clone(),
            binds: self
                .binds
                .iter()
                .map(|b| {
                    let b = b.lock().unwrap_or_else(|p| p.into_inner());
                    BindSnapshot {
                        up: b.up,
                        since: b.since,
                        role: b.role,
                        outstanding: b.window.as_ref().map_or(0, |w| w.outstanding()),
                        window: b.window.as_ref().map_or(0, |w| w.size()),
                    }
                })
                .collect(),
            tps_now: self.rate.last_second(),
            tps_peak: self.rate.peak(),
            tps_cap: self.tps_cap,
            parts_accepted: self.parts_accepted.load(Ordering::Relaxed),
            throttled: self.throttled.load(Ordering::Relaxed),
            unanswered: self.unanswered.load(Ordering::Relaxed),
            last_error: self
                .last_error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        }
    }
}
