//! `status`: what an operator on duty looks at — the daemon, each operator, each lane, overdue
//! receipts, messages at risk of missing their deadline and the outcomes of the last minute
//! and hour.

use super::GatewayBackend;
use super::errors::not_read;
use super::operators::{capacity, operator_status};
use super::risk::{Capacity, LaneHead, at_risk};
use crate::api::error::ApiError;
use crate::api::views::{
    AtRiskMessage, DaemonStatus, DiskStatus, LaneStatus, OverdueMessage, QueueStatus, StatusReport,
};
use crate::encoding::EncodingConfig;
use crate::message::{Kind, MessageId, Millis, now_ms};
use crate::store::{Store, StoreError};

/// Queued messages looked at per lane (for the oldest one and the at-risk estimate).
const HEAD: usize = 1000;
/// Messages in flight looked at (the operators' windows bound them).
const IN_FLIGHT: usize = 10_000;
/// Overdue and at-risk messages listed by name.
const LISTED: usize = 20;
/// How long the first status after a start waits for the event log to be read.
const CATCH_UP_PATIENCE: std::time::Duration = std::time::Duration::from_secs(30);

/// What the report reads from the store, off the async threads.
struct Scan {
    lanes: Vec<LaneHead>,
    submitting: [u64; 4],
    overdue: Vec<OverdueMessage>,
    at_risk: Vec<AtRiskMessage>,
}

/// Reads the lanes' heads, the in-flight messages and the listed overdue messages, and
/// estimates which queued messages are at risk.
async fn scan(
    store: &Store,
    overdue: &[(MessageId, Millis)],
    capacity: &Capacity,
    encoding: &EncodingConfig,
    now: Millis,
) -> Result<Scan, StoreError> {
    let counts = store.counts();
    let mut lanes = Vec::with_capacity(Kind::ALL.len());
    for kind in Kind::ALL {
        lanes.push(LaneHead {
            kind,
            queued: counts.queued_in(kind),
            head: store.queued_head(kind, HEAD).await?,
        });
    }
    let mut submitting = [0; 4];
    for message in store.in_flight(IN_FLIGHT).await? {
        submitting[message.kind.lane() as usize] += 1;
    }
    let mut listed = Vec::new();
    for &(id, receipt_by) in overdue {
        if let Some(message) = store.get(id).await?
            && !message.state.is_final()
        {
            listed.push(OverdueMessage {
                message_id: id,
                kind: message.kind,
                operator: message.operator,
                receipt_by,
            });
        }
    }
    Ok(Scan {
        at_risk: at_risk(&lanes, capacity, encoding, now),
        lanes,
        submitting,
        overdue: listed,
    })
}

impl GatewayBackend {
    /// `status`.
    pub(super) async fn status_report(&self) -> Result<StatusReport, ApiError> {
        let now = now_ms();
        let snapshots = (self.parts.operators)();
        self.throttles.record(&snapshots, now);
        let operators = snapshots
            .iter()
            .map(|s| operator_status(s, self.throttles.recent(&s.name, now)))
            .collect();
        let capacity = Capacity {
            parts_per_second: capacity(&snapshots),
            shares: self.parts.scheduler.config().min_share.by_lane(),
        };

        // bounded: a store that cannot be read must not hang status (the read error is logged)
        let _ = tokio::time::timeout(CATCH_UP_PATIENCE, self.tracker.caught_up()).await;
        let (overdue_count, overdue) = self.tracker.overdue(LISTED);
        let encoding = self.parts.encoding;
        let scan = scan(self.store(), &overdue, &capacity, &encoding, now)
            .await
            .map_err(|e| not_read(&e))?;
        let at_risk_count = scan.at_risk.len() as u64;
        let mut at_risk_listed = scan.at_risk;
        at_risk_listed.truncate(LISTED);

        let submitted = self.tracker.submitted_by_lane();
        let lanes = scan
            .lanes
            .iter()
            .map(|lane| {
                let i = lane.kind.lane() as usize;
                let oldest = lane.head.iter().map(|(_, m)| m.created).min();
                LaneStatus {
                    kind: lane.kind,
                    queued: lane.queued,
                    submitting: scan.submitting[i],
                    submitted: submitted[i],
                    oldest_queued_at: oldest,
                    oldest_queued_age_s: oldest.map(|at| age_s(at, now)),
                }
            })
            .collect();

        Ok(StatusReport {
            daemon: DaemonStatus {
                version: env!("CARGO_PKG_VERSION").to_owned(),
                started_at: self.parts.started_at,
                uptime_s: age_s(self.parts.started_at, now),
                now,
            },
            operators,
            lanes,
            queue: QueueStatus {
                depth: self.depth(),
                max_depth: self.parts.max_queue_depth,
            },
            disk: self.disk_status(),
            cluster: self
                .store()
                .cluster_view(self.parts.lease_ttl)
                .await
                .map_err(|e| not_read(&e))?,
            calendar: Some(self.parts.calendar.coverage(now)),
            receipts_overdue: overdue_count,
            overdue: scan.overdue,
            at_risk_count,
            at_risk: at_risk_listed,
            last_minute: self.tracker.last(60, now),
            last_hour: self.tracker.last(3600, now),
        })
    }
}

impl GatewayBackend {
    /// The store's free space against the reserve (None on the cluster engine, whose disk is
    /// the database server's).
    fn disk_status(&self) -> Option<DiskStatus> {
        let space = self.store().disk_space()?;
        Some(DiskStatus {
            dir: space.dir.display().to_string(),
            free_bytes: space.free_bytes,
            min_free_bytes: space.min_free_bytes,
            refusing: space.refusing,
        })
    }
}

/// Whole seconds from `since` to `now` (0 if `since` lies ahead).
fn age_s(since: Millis, now: Millis) -> u64 {
    u64::try_from((now - since).max(0) / 1000).unwrap_or(0)
}
