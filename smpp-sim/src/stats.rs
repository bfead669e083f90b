//! Per-operator counters, read by tests, the control socket and the SIGTERM report.

use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::rate::RateWindow;

/// Live counters of one operator (relaxed atomics: cheap on the submit path).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub binds_current: AtomicU64,
    pub binds_total: AtomicU64,
    pub bind_failures: AtomicU64,
    pub submits: AtomicU64,
    pub parts: AtomicU64,
    pub messages: AtomicU64,
    pub duplicates: AtomicU64,
    pub throttled: AtomicU64,
    pub rejected: AtomicU64,
    pub queries: AtomicU64,
    pub receipts_scheduled: AtomicU64,
    pub receipts_sent: AtomicU64,
    pub receipts_acked: AtomicU64,
    pub receipts_failed: AtomicU64,
    pub mo_scheduled: AtomicU64,
    pub mo_sent: AtomicU64,
    pub mo_acked: AtomicU64,
    pub mo_failed: AtomicU64,
    pub connections_dropped: AtomicU64,
    pub malformed: AtomicU64,
    max_per_second: AtomicU64,
    window: Mutex<RateWindow>,
}

impl Counters {
    /// Adds one to a counter.
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }

    /// Records a submit_sm arriving now, for the busiest-second figure.
    pub fn record_submit_time(&self, now: Instant) {
        let in_window = match self.window.lock() {
            Ok(mut w) => w.record(now) as u64,
            Err(poisoned) => poisoned.into_inner().record(now) as u64,
        };
        self.max_per_second.fetch_max(in_window, Relaxed);
    }

    /// A consistent-enough copy for reporting.
    pub fn snapshot(&self, operator: &str) -> OperatorStats {
        let get = |c: &AtomicU64| c.load(Relaxed);
        let receipts_acked = get(&self.receipts_acked);
        let receipts_failed = get(&self.receipts_failed);
        let receipts_scheduled = get(&self.receipts_scheduled);
        OperatorStats {
            operator: operator.to_string(),
            binds_current: get(&self.binds_current),
            binds_total: get(&self.binds_total),
            bind_failures: get(&self.bind_failures),
            submits: get(&self.submits),
            parts: get(&self.parts),
            messages: get(&self.messages),
            duplicates: get(&self.duplicates),
            throttled: get(&self.throttled),
            rejected: get(&self.rejected),
            queries: get(&self.queries),
            receipts_sent: get(&self.receipts_sent),
            receipts_acked,
            receipts_failed,
            receipts_pending: receipts_scheduled.saturating_sub(receipts_acked + receipts_failed),
            mo_sent: get(&self.mo_sent),
            mo_acked: get(&self.mo_acked),
            mo_pending: get(&self.mo_scheduled)
                .saturating_sub(get(&self.mo_acked) + get(&self.mo_failed)),
            connections_dropped: get(&self.connections_dropped),
            malformed: get(&self.malformed),
            max_parts_per_second: get(&self.max_per_second),
        }
    }
}

/// A snapshot of one operator's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorStats {
    /// Operator name.
    pub operator: String,
    /// Binds open now.
    pub binds_current: u64,
    /// Successful binds since start.
    pub binds_total: u64,
    /// Refused bind attempts (bad credentials, too many binds, already bound).
    pub bind_failures: u64,
    /// submit_sm PDUs received on a bound session (accepted or not).
    pub submits: u64,
    /// submit_sm accepted (ESME_ROK), one per SMS part.
    pub parts: u64,
    /// Complete messages: single-part ones plus fully reassembled concatenated ones.
    pub messages: u64,
    /// Repeats of a message already received (same destination, text and concatenation
    /// reference) and repeated parts.
    pub duplicates: u64,
    /// submit_sm answered ESME_RTHROTTLED.
    pub throttled: u64,
    /// submit_sm answered with any other error.
    pub rejected: u64,
    /// query_sm answered.
    pub queries: u64,
    /// Delivery receipts written to a receiver bind (re-sends included).
    pub receipts_sent: u64,
    /// Receipts the ESME acknowledged with deliver_sm_resp ESME_ROK.
    pub receipts_acked: u64,
    /// Receipts given up after `max_attempts` refusals.
    pub receipts_failed: u64,
    /// Receipts due or waiting for a receiver bind or an acknowledgement.
    pub receipts_pending: u64,
    /// Mobile-originated deliver_sm written (re-sends included).
    pub mo_sent: u64,
    /// Mobile-originated deliver_sm acknowledged.
    pub mo_acked: u64,
    /// Mobile-originated messages not yet acknowledged.
    pub mo_pending: u64,
    /// Connections closed by a drop fault, `down`, or a fatal framing error.
    pub connections_dropped: u64,
    /// PDUs answered generic_nack because they could not be decoded.
    pub malformed: u64,
    /// The most submit_sm received in any one-second window.
    pub max_parts_per_second: u64,
}

/// A report row: its label and the counter it shows.
type Row = (&'static str, fn(&OperatorStats) -> u64);

/// Renders stats as the table printed on SIGTERM and by `smpp-sim ctl stats`.
pub fn report(stats: &[OperatorStats]) -> String {
    let mut out = String::new();
    let rows: [Row; 17] = [
        ("binds (now)", |s| s.binds_current),
        ("binds (total)", |s| s.binds_total),
        ("bind failures", |s| s.bind_failures),
        ("submits", |s| s.submits),
        ("parts accepted", |s| s.parts),
        ("messages", |s| s.messages),
        ("duplicates", |s| s.duplicates),
        ("throttled", |s| s.throttled),
        ("rejected", |s| s.rejected),
        ("receipts sent", |s| s.receipts_sent),
        ("receipts acked", |s| s.receipts_acked),
        ("receipts pending", |s| s.receipts_pending),
        ("MO sent", |s| s.mo_sent),
        ("MO acked", |s| s.mo_acked),
        ("connections dropped", |s| s.connections_dropped),
        ("malformed PDUs", |s| s.malformed),
        ("max submits/s", |s| s.max_parts_per_second),
    ];
    let _ = write!(out, "{:<22}", "");
    for s in stats {
        let _ = write!(out, "{:>12}", s.operator);
    }
    out.push('\n');
    for (label, get) in rows {
        let _ = write!(out, "{label:<22}");
        for s in stats {
            let _ = write!(out, "{:>12}", get(s));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn busiest_second_is_kept() {
        let c = Counters::default();
        let t0 = Instant::now();
        for i in 0..5 {
            c.record_submit_time(t0 + Duration::from_millis(i * 100));
        }
        c.record_submit_time(t0 + Duration::from_secs(3));
        assert_eq!(c.snapshot("x").max_parts_per_second, 5);
    }

    #[test]
    fn report_has_a_column_per_operator() {
        let stats = [
            OperatorStats {
                operator: "kcell".into(),
                submits: 3,
                ..Default::default()
            },
            OperatorStats {
                operator: "tele2".into(),
                ..Default::default()
            },
        ];
        let text = report(&stats);
        assert!(text.lines().next().unwrap().contains("kcell"));
        assert!(
            text.lines()
                .any(|l| l.starts_with("submits") && l.contains('3'))
        );
    }
}
