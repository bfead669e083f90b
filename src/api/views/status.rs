//! The status report: everything an operator on duty looks at in `khabar status`.

use crate::api::serde_fmt;
use crate::message::{Kind, MessageId, Millis, State};
use serde::{Deserialize, Serialize};

/// The whole report (`status` op, `khabar status --json`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StatusReport {
    /// The daemon itself.
    pub daemon: DaemonStatus,
    /// One entry per configured operator.
    pub operators: Vec<OperatorStatus>,
    /// One entry per lane (kind), highest priority first.
    pub lanes: Vec<LaneStatus>,
    /// Total depth against the configured maximum.
    pub queue: QueueStatus,
    /// Free space on the store's disk against the reserve (absent from older daemons).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk: Option<DiskStatus>,
    /// Cluster mode: the nodes, who holds which operator's binds, the database's state
    /// (absent on a single node).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<crate::store::reports::ClusterView>,
    /// How far ahead the working-day calendar is known (absent from older daemons).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calendar: Option<crate::calendar::Coverage>,
    /// Messages past `receipt_by` without a final receipt.
    pub receipts_overdue: u64,
    /// The oldest few of them (the daemon decides how many).
    #[serde(default)]
    pub overdue: Vec<OverdueMessage>,
    /// Messages not yet sent whose `send_by` is near (the daemon decides the horizon).
    pub at_risk_count: u64,
    /// The most urgent few of them, soonest deadline first.
    #[serde(default)]
    pub at_risk: Vec<AtRiskMessage>,
    /// Outcomes in the last 60 seconds.
    pub last_minute: Outcomes,
    /// Outcomes in the last 60 minutes.
    pub last_hour: Outcomes,
}

/// The daemon's identity and age.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonStatus {
    /// khabar's version.
    pub version: String,
    /// When the daemon started.
    #[serde(with = "serde_fmt::time")]
    pub started_at: Millis,
    /// Seconds since it started.
    pub uptime_s: u64,
    /// The daemon's clock when the report was made.
    #[serde(with = "serde_fmt::time")]
    pub now: Millis,
}

/// One operator: binds, window, rate, throttling, errors.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OperatorStatus {
    /// The operator's configured name (e.g. "kcell").
    pub name: String,
    /// Each configured bind.
    pub binds: Vec<BindStatus>,
    /// Submits awaiting their response, over all binds.
    pub window_in_use: u32,
    /// The window size, over all binds.
    pub window_size: u32,
    /// SMS parts sent in the last complete second.
    pub tps_now: f64,
    /// The contracted rate.
    pub tps_cap: f64,
    /// Throttling answers (ESME_RTHROTTLED, queue full) in the last minute.
    pub throttled_last_minute: u64,
    /// Throttling answers in the last hour.
    pub throttled_last_hour: u64,
    /// The last time the operator throttled us.
    #[serde(
        default,
        with = "serde_fmt::time_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_throttled_at: Option<Millis>,
    /// SMS parts sent again since start because no submit_sm_resp came for them (response
    /// timeout, connection lost): the operator may have delivered these twice.
    #[serde(default)]
    pub resent_unanswered: u64,
    /// The last error seen on any bind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<LastError>,
}

/// A bind's state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BindState {
    /// Bound and usable.
    Up,
    /// Connecting or binding.
    Binding,
    /// Not bound (waiting to reconnect).
    #[default]
    Down,
    /// A state this build does not know.
    #[serde(other)]
    Other,
}

/// One SMPP bind of an operator.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindStatus {
    /// A name for the bind, e.g. "kcell#1 (transceiver)".
    pub name: String,
    /// Up or down.
    pub state: BindState,
    /// Since when it is in that state.
    #[serde(
        default,
        with = "serde_fmt::time_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub since: Option<Millis>,
}

/// An error with its time.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastError {
    /// When.
    #[serde(with = "serde_fmt::time")]
    pub at: Millis,
    /// What.
    pub message: String,
}

/// One lane's queue: messages by (non-final) state and the oldest waiting one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaneStatus {
    /// The lane's kind.
    pub kind: Kind,
    /// Waiting to be sent.
    pub queued: u64,
    /// Handed to a session, response not yet seen.
    pub submitting: u64,
    /// Acknowledged by the operator, awaiting the receipt.
    pub submitted: u64,
    /// Creation time of the oldest queued message.
    #[serde(
        default,
        with = "serde_fmt::time_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub oldest_queued_at: Option<Millis>,
    /// Its age in seconds when the report was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oldest_queued_age_s: Option<u64>,
}

impl LaneStatus {
    /// An empty lane of `kind`.
    pub fn empty(kind: Kind) -> Self {
        LaneStatus {
            kind,
            queued: 0,
            submitting: 0,
            submitted: 0,
            oldest_queued_at: None,
            oldest_queued_age_s: None,
        }
    }
}

/// Total queue depth.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueStatus {
    /// Messages not yet final (queued + submitting + submitted).
    pub depth: u64,
    /// The configured maximum depth (beyond it `submit` answers `queue_full`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_depth: Option<u64>,
}

/// The store's disk: below `min_free_bytes` free, new messages are refused.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskStatus {
    /// The store's directory.
    pub dir: String,
    /// Bytes free for the daemon (absent when the file system could not be asked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free_bytes: Option<u64>,
    /// The reserve (`[store] min_free_disk_mib`) in bytes; 0 = no reserve.
    pub min_free_bytes: u64,
    /// True while new messages are refused for lack of space.
    pub refusing: bool,
}

/// A message whose receipt is overdue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverdueMessage {
    /// The message.
    #[serde(with = "serde_fmt::message_id")]
    pub message_id: MessageId,
    /// Its kind.
    pub kind: Kind,
    /// The operator it went to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    /// The receipt deadline that passed.
    #[serde(with = "serde_fmt::time")]
    pub receipt_by: Millis,
}

/// A message that may miss its deadline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AtRiskMessage {
    /// The message.
    #[serde(with = "serde_fmt::message_id")]
    pub message_id: MessageId,
    /// Its kind.
    pub kind: Kind,
    /// Its state (queued or submitting).
    pub state: State,
    /// Its deadline.
    #[serde(with = "serde_fmt::time")]
    pub send_by: Millis,
    /// Seconds left until the deadline when the report was made.
    pub seconds_left: i64,
}

/// How many messages ended each way in a time span.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcomes {
    /// Accepted from upstream.
    pub accepted: u64,
    /// Acknowledged by an operator.
    pub submitted: u64,
    /// Delivered (final receipt DELIVRD).
    pub delivered: u64,
    /// Undeliverable (UNDELIV, REJECTD, DELETED receipts).
    pub undeliverable: u64,
    /// Expired (not sent before `send_by`, or EXPIRED receipts).
    pub expired: u64,
    /// Rejected by an operator at submit time.
    pub rejected: u64,
    /// Failed permanently.
    pub failed: u64,
    /// Cancelled.
    pub cancelled: u64,
}
