//! The daemon side of the socket API: [`GatewayBackend`] serves every request from the store,
//! the scheduler, the router, the templates, the calendar and the live session pool.
//!
//! - `submit`, `checks`, `depth`: a submit checked against the daemon's rules and the
//!   maximum queue depth, then stored durably;
//! - `messages`: `get` and `cancel`;
//! - `events`: the event log and durable cursors;
//! - `otp`: one-time passwords;
//! - `status`, `risk`, `operators`: the status report;
//! - `outcomes`: a background follower of the event log for the report's figures.

mod checks;
mod depth;
mod errors;
mod events;
mod messages;
mod operators;
mod otp;
mod outcomes;
mod risk;
mod status;
mod submit;

use crate::api::backend::Backend;
use crate::api::error::ApiError;
use crate::api::protocol::{
    Language, MessageRef, OtpSendRequest, OtpSent, OtpVerdict, OtpVerifyRequest, SubmitOk,
    SubmitRequest,
};
use crate::api::views::{EventView, MessageView, StatusReport};
use crate::calendar::Calendar;
use crate::encoding::EncodingConfig;
use crate::message::Millis;
use crate::otp::{OtpConfig, OtpService};
use crate::router::Router;
use crate::scheduler::Scheduler;
use crate::sessions::OperatorSnapshot;
use crate::store::Store;
use crate::templates::Templates;
use operators::ThrottleHistory;
use outcomes::OutcomeTracker;
use std::sync::{Arc, Mutex};
use tokio::sync::{Notify, watch};
use tokio::task::AbortHandle;

/// Live operator health for the status report.
pub type OperatorsFn = Arc<dyn Fn() -> Vec<OperatorSnapshot> + Send + Sync>;

/// Everything the backend serves requests from.
pub struct BackendParts {
    /// The scheduler: its store, default deadlines and lane shares.
    pub scheduler: Arc<Scheduler>,
    /// Number prefix → operator.
    pub router: Arc<Router>,
    /// Named message templates.
    pub templates: Arc<Templates>,
    /// Working days, for `deadline` expressions.
    pub calendar: Arc<Calendar>,
    /// Alphabet and part limits.
    pub encoding: EncodingConfig,
    /// Most messages not yet final; beyond it `submit` answers `queue_full`. None = no limit.
    pub max_queue_depth: Option<u64>,
    /// Live operator health, for `status`.
    pub operators: OperatorsFn,
    /// One-time passwords; None = `otp_send`/`otp_verify` answer `unavailable`.
    pub otp: Option<Arc<OtpService>>,
    /// The OTP settings.
    pub otp_config: OtpConfig,
    /// The language of an OTP's text when the request names none.
    pub otp_language: Language,
    /// Notified after every newly stored message, so the sending stage looks at once.
    pub wake: Arc<Notify>,
    /// When the daemon started.
    pub started_at: Millis,
    /// In cluster mode, how long a node may be silent before it counts as gone (`status`).
    pub lease_ttl: std::time::Duration,
}

/// The socket API's backend over the daemon's stages.
pub struct GatewayBackend {
    parts: BackendParts,
    /// Messages being accepted right now, counted against `max_queue_depth`.
    pending: Mutex<u64>,
    tracker: Arc<OutcomeTracker>,
    throttles: Arc<ThrottleHistory>,
    tasks: Vec<AbortHandle>,
}

impl GatewayBackend {
    /// A backend over `parts`. Starts (on the current tokio runtime) the background tasks
    /// behind the status report's figures: a follower of the store's event log and a sampler
    /// of the operators' throttling counters. They stop when the backend is dropped.
    pub fn new(parts: BackendParts) -> Self {
        let tracker = Arc::new(OutcomeTracker::new());
        let throttles = Arc::new(ThrottleHistory::default());
        let mut tasks = Vec::new();
        if tokio::runtime::Handle::try_current().is_ok() {
            tasks.push(tracker.follow(parts.scheduler.store()));
            tasks.push(throttles.sample(parts.operators.clone()));
        } else {
            tracing::warn!(
                "the backend was built outside a tokio runtime: status shows no outcomes, \
                 overdue receipts or throttling"
            );
        }
        GatewayBackend {
            parts,
            pending: Mutex::new(0),
            tracker,
            throttles,
            tasks,
        }
    }

    /// The store every request is served from.
    fn store(&self) -> &Store {
        self.parts.scheduler.store()
    }
}

impl Drop for GatewayBackend {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Backend for GatewayBackend {
    async fn submit(&self, request: SubmitRequest) -> Result<SubmitOk, ApiError> {
        self.submit_one(request).await
    }

    async fn submit_batch(&self, requests: Vec<SubmitRequest>) -> Vec<Result<SubmitOk, ApiError>> {
        self.submit_many(requests).await
    }

    async fn get(&self, message: MessageRef) -> Result<MessageView, ApiError> {
        self.find(&message).await.map(|m| MessageView::from(&m))
    }

    async fn cancel(&self, message: MessageRef) -> Result<MessageView, ApiError> {
        self.cancel_message(&message).await
    }

    async fn status(&self) -> Result<StatusReport, ApiError> {
        self.status_report().await
    }

    async fn cursor_position(&self, cursor: String) -> Result<u64, ApiError> {
        self.cursor_at(&cursor).await
    }

    async fn events(&self, after: u64, limit: usize) -> Result<Vec<EventView>, ApiError> {
        self.read_events(after, limit).await
    }

    async fn ack(&self, cursor: String, seq: u64) -> Result<(), ApiError> {
        self.ack_cursor(&cursor, seq).await
    }

    fn latest_event(&self) -> watch::Receiver<u64> {
        self.store().subscribe()
    }

    async fn otp_send(&self, request: OtpSendRequest) -> Result<OtpSent, ApiError> {
        self.send_otp(request).await
    }

    async fn otp_verify(&self, request: OtpVerifyRequest) -> Result<OtpVerdict, ApiError> {
        self.verify_otp(request).await
    }
}
