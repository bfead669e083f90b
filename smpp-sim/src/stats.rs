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
    pub nacks_sent: AtomicU64,
    pub large_sent: AtomicU64,
    pub unbinds_sent: AtomicU64,
    pub unbind_resps_received: AtomicU64,
    pub generic_nacks_received: AtomicU64,
    pub generic_nacks_ok_status: AtomicU64,
    pub answers_to_responses: AtomicU64,
    pub deliver_unanswered: AtomicU64,
    pub deliver_answered_late: AtomicU64,
    pub deliver_answer_max_ms: AtomicU64,
    pub resubmitted_after_ok: AtomicU64,
    pub tls_handshake_failures: AtomicU64,
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
            nacks_sent: get(&self.nacks_sent),
            large_sent: get(&self.large_sent),
            unbinds_sent: get(&self.unbinds_sent),
            unbind_resps_received: get(&self.unbind_resps_received),
            generic_nacks_received: get(&self.generic_nacks_received),
            generic_nacks_ok_status: get(&self.generic_nacks_ok_status),
            answers_to_responses: get(&self.answers_to_responses),
            deliver_unanswered: get(&self.deliver_unanswered),
            deliver_answered_late: get(&self.deliver_answered_late),
            deliver_answer_max_ms: get(&self.deliver_answer_max_ms),
            resubmitted_after_ok: get(&self.resubmitted_after_ok),
            tls_handshake_failures: get(&self.tls_handshake_failures),
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
    /// submit_sm answered generic_nack ESME_RSYSERR by the `nack_share` fault.
    #[serde(default)]
    pub nacks_sent: u64,
    /// Large deliver_sm sent (one per bind with `large_deliver_after_bind`, one per
    /// connection for an injected one; re-sends counted in `mo_sent` only).
    #[serde(default)]
    pub large_sent: u64,
    /// unbind PDUs the SMSC sent ([`crate::SimHandle::unbind`]).
    #[serde(default)]
    pub unbinds_sent: u64,
    /// unbind_resp received for those.
    #[serde(default)]
    pub unbind_resps_received: u64,
    /// generic_nack PDUs received from the ESME.
    #[serde(default)]
    pub generic_nacks_received: u64,
    /// generic_nack from the ESME with command_status 0: a protocol error (a generic_nack
    /// carries the error).
    #[serde(default)]
    pub generic_nacks_ok_status: u64,
    /// PDUs from the ESME carrying the sequence number of a response the SMSC sent
    /// unsolicited: an ESME must never answer a response.
    #[serde(default)]
    pub answers_to_responses: u64,
    /// deliver_sm (receipt or MO) not answered within `response_timeout_ms` of being written,
    /// each sent again with a new sequence number.
    #[serde(default)]
    pub deliver_unanswered: u64,
    /// deliver_sm answered more than `late_answer_ms` after being written, and every answer
    /// to one already re-sent for want of an answer.
    #[serde(default)]
    pub deliver_answered_late: u64,
    /// The slowest deliver_sm answer seen, in milliseconds from write to answer.
    #[serde(default)]
    pub deliver_answer_max_ms: u64,
    /// Accepted parts the ESME had already been told (submit_sm_resp ESME_ROK written to an
    /// open connection) were accepted: resubmissions after a definite success.
    #[serde(default)]
    pub resubmitted_after_ok: u64,
    /// Connections to a TLS port closed because their TLS handshake failed (the client did
    /// not trust the certificate, spoke plain SMPP, or did not finish within 10 s).
    #[serde(default)]
    pub tls_handshake_failures: u64,
}

/// A report row: its label and the counter it shows.
type Row = (&'static str, fn(&OperatorStats) -> u64);

/// Renders stats as the table printed on SIGTERM and by `smpp-sim ctl stats`.
pub fn report(stats: &[OperatorStats]) -> String {
    let mut out = String::new();
    let rows: [Row; 28] = [
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
        ("resubmitted after OK", |s| s.resubmitted_after_ok),
        ("nacks sent", |s| s.nacks_sent),
        ("unbinds sent", |s| s.unbinds_sent),
        ("unbind_resps received", |s| s.unbind_resps_received),
        ("generic_nacks received", |s| s.generic_nacks_received),
        ("generic_nacks status 0", |s| s.generic_nacks_ok_status),
        ("answers to responses", |s| s.answers_to_responses),
        ("deliver unanswered", |s| s.deliver_unanswered),
        ("deliver answered late", |s| s.deliver_answered_late),
        ("deliver answer max ms", |s| s.deliver_answer_max_ms),
        ("TLS handshakes failed", |s| s.tls_handshake_failures),
    ];
    let _ = write!(out, "{:<24}", "");
    for s in stats {
        let _ = write!(out, "{:>12}", s.operator);
    }
    out.push('\n');
    for (label, get) in rows {
        let _ = write!(out, "{label:<24}");
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

    #[test]
    fn stats_json_without_the_new_counters_still_parses() {
        let old = r#"{"operator":"kcell","binds_current":0,"binds_total":1,"bind_failures":0,
            "submits":2,"parts":2,"messages":2,"duplicates":0,"throttled":0,"rejected":0,
            "queries":0,"receipts_sent":2,"receipts_acked":2,"receipts_failed":0,
            "receipts_pending":0,"mo_sent":0,"mo_acked":0,"mo_pending":0,
            "connections_dropped":0,"malformed":0,"max_parts_per_second":2}"#;
        let stats: OperatorStats = serde_json::from_str(old).unwrap();
        assert_eq!((stats.submits, stats.resubmitted_after_ok), (2, 0));
    }
}
