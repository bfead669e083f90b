//! An in-memory backend with simple, documented rules, standing in for the daemon so the
//! socket server can be tested on its own. Its rules are the fake's, not khabar's:
//! - a number is `+7`/`7`/`8` followed by 10 digits; `7799…` has no route;
//! - more than 700 characters is too many parts;
//! - the only template is `greeting`, whose `iin` field must be 12 digits;
//! - the deadline expression `yesterday` is in the past;
//! - at most `max_depth` messages may be queued.

use khabar::api::protocol::{
    Content, MessageRef, OtpSendRequest, OtpSent, OtpVerdict, OtpVerifyRequest, SubmitOk,
    SubmitRequest,
};
use khabar::api::views::{
    BindState, BindStatus, DaemonStatus, EventType, EventView, LaneStatus, MessageView,
    OperatorStatus, QueueStatus, StatusReport, TransitionView,
};
use khabar::api::{ApiError, Backend, ErrorCode};
use khabar::message::{Kind, MessageId, State, now_ms};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::watch;

use super::fake_otp::Otp;

#[derive(Default)]
struct Inner {
    messages: Vec<MessageView>,
    by_ref: HashMap<String, MessageId>,
    events: Vec<EventView>,
    cursors: HashMap<String, u64>,
    otp: HashMap<String, Otp>,
}

/// The fake backend.
pub struct FakeBackend {
    inner: Mutex<Inner>,
    latest: watch::Sender<u64>,
    /// Most queued messages before `queue_full`.
    pub max_depth: usize,
    /// When set, every write answers `unavailable`.
    pub store_fails: AtomicBool,
    /// When set, `submit_batch` drops its last answer (a backend bug the server must catch).
    pub batch_bug: AtomicBool,
}

impl FakeBackend {
    /// An empty backend allowing `max_depth` queued messages.
    pub fn new(max_depth: usize) -> Self {
        FakeBackend {
            inner: Mutex::new(Inner::default()),
            latest: watch::Sender::new(0),
            max_depth,
            store_fails: AtomicBool::new(false),
            batch_bug: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends an event about `message` and announces it; returns its seq.
    pub fn push_event(&self, message: Option<MessageId>, state: State) -> u64 {
        let mut inner = self.lock();
        let seq = inner.events.len() as u64 + 1;
        inner.events.push(EventView {
            seq,
            kind: EventType::StateChanged,
            at: now_ms(),
            message_id: message,
            state: Some(state),
            reason: Some(format!("event {seq}")),
            ..EventView::default()
        });
        drop(inner);
        self.latest.send_replace(seq);
        seq
    }

    /// Moves a message to `state` (as the scheduler would).
    pub fn set_state(&self, id: MessageId, state: State) {
        let mut inner = self.lock();
        if let Some(m) = inner.messages.iter_mut().find(|m| m.id == id) {
            m.state = state;
            m.history.push(TransitionView {
                state,
                at: now_ms(),
                reason: None,
            });
        }
    }

    /// The stored message with `id`.
    pub fn message(&self, id: MessageId) -> Option<MessageView> {
        self.lock().messages.iter().find(|m| m.id == id).cloned()
    }

    /// The id stored for an upstream reference.
    pub fn message_by_ref(&self, reference: &str) -> Option<MessageId> {
        self.lock().by_ref.get(reference).copied()
    }

    /// Makes an OTP session's code expire.
    pub fn expire_otp(&self, session: &str) {
        if let Some(otp) = self.lock().otp.get_mut(session) {
            otp.expired = true;
        }
    }

    /// The last acknowledged seq of a cursor.
    pub fn cursor(&self, name: &str) -> u64 {
        self.lock().cursors.get(name).copied().unwrap_or(0)
    }

    fn check(&self, r: &SubmitRequest) -> Result<String, ApiError> {
        if self.store_fails.load(Ordering::SeqCst) {
            return Err(ApiError::unavailable("disk full (fake)"));
        }
        let digits = r.to.trim_start_matches('+');
        let national = digits
            .strip_prefix('7')
            .or_else(|| digits.strip_prefix('8'))
            .filter(|d| d.len() == 10 && d.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::InvalidNumber,
                    format!("{:?} is not a Kazakh mobile number", r.to),
                )
            })?;
        if national.starts_with("799") {
            return Err(ApiError::new(
                ErrorCode::NoRoute,
                "no operator serves +7799",
            ));
        }
        let text = match &r.content {
            Content::Text(t) => t.clone(),
            Content::Template { name, fields, .. } => {
                if name != "greeting" {
                    return Err(ApiError::new(
                        ErrorCode::UnknownTemplate,
                        format!("no template {name:?}"),
                    ));
                }
                let iin = fields.get("iin").cloned().unwrap_or_default();
                if iin.len() != 12 || !iin.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(ApiError::new(
                        ErrorCode::InvalidIin,
                        format!("{iin:?} is not an IIN"),
                    ));
                }
                format!("Hello {iin}")
            }
        };
        if text.chars().count() > 700 {
            return Err(ApiError::new(ErrorCode::TooManyParts, "more than 10 parts"));
        }
        if r.deadline.as_deref() == Some("yesterday") {
            return Err(ApiError::new(
                ErrorCode::DeadlineInPast,
                "yesterday has passed",
            ));
        }
        Ok(text)
    }

    fn store(
        &self,
        inner: &mut Inner,
        r: SubmitRequest,
        text: String,
    ) -> Result<SubmitOk, ApiError> {
        if let Some(id) = r.reference.as_ref().and_then(|re| inner.by_ref.get(re)) {
            return Ok(SubmitOk {
                message_id: *id,
                duplicate: true,
            });
        }
        let queued = inner
            .messages
            .iter()
            .filter(|m| m.state == State::Queued)
            .count();
        if queued >= self.max_depth {
            return Err(ApiError::new(
                ErrorCode::QueueFull,
                format!("{queued} messages queued"),
            ));
        }
        let id = MessageId::from_parts(now_ms(), inner.messages.len() as u64);
        let created = now_ms();
        inner.messages.push(MessageView {
            id,
            reference: r.reference.clone(),
            kind: r.kind,
            recipient: r.to.trim_start_matches('+').to_string(),
            sender: r.sender,
            text: Some(text),
            template: None,
            state: State::Queued,
            created,
            send_by: r.send_by,
            send_by_rule: None,
            held_until: None,
            receipt_by: r.receipt_by,
            reply_window_s: r.reply_window.map(|w| w.as_secs()),
            attempts: 0,
            operator: None,
            parts: Vec::new(),
            history: vec![TransitionView {
                state: State::Queued,
                at: created,
                reason: None,
            }],
            replies: Vec::new(),
            receipt_overdue_at: None,
        });
        if let Some(re) = r.reference {
            inner.by_ref.insert(re, id);
        }
        Ok(SubmitOk {
            message_id: id,
            duplicate: false,
        })
    }

    fn find(inner: &Inner, m: &MessageRef) -> Result<usize, ApiError> {
        let found = match m {
            MessageRef::Id(id) => inner.messages.iter().position(|x| x.id == *id),
            MessageRef::Reference(r) => inner
                .messages
                .iter()
                .position(|x| x.reference.as_ref() == Some(r)),
        };
        found.ok_or_else(|| ApiError::new(ErrorCode::UnknownMessage, format!("no {m}")))
    }
}

impl Backend for FakeBackend {
    async fn submit(&self, request: SubmitRequest) -> Result<SubmitOk, ApiError> {
        // Vary the handling time so pipelined requests finish out of order.
        let spread = request
            .to
            .bytes()
            .chain(
                request
                    .reference
                    .iter()
                    .flat_map(|r| r.bytes().collect::<Vec<_>>()),
            )
            .map(u64::from)
            .sum::<u64>()
            % 5;
        tokio::time::sleep(Duration::from_millis(spread)).await;
        let text = self.check(&request)?;
        let mut inner = self.lock();
        self.store(&mut inner, request, text)
    }

    async fn submit_batch(&self, requests: Vec<SubmitRequest>) -> Vec<Result<SubmitOk, ApiError>> {
        let mut results: Vec<_> = requests
            .into_iter()
            .map(|r| {
                let text = self.check(&r)?;
                let mut inner = self.lock();
                self.store(&mut inner, r, text)
            })
            .collect();
        if self.batch_bug.load(Ordering::SeqCst) {
            results.pop();
        }
        results
    }

    async fn get(&self, message: MessageRef) -> Result<MessageView, ApiError> {
        let inner = self.lock();
        Self::find(&inner, &message).map(|i| inner.messages[i].clone())
    }

    async fn cancel(&self, message: MessageRef) -> Result<MessageView, ApiError> {
        let mut inner = self.lock();
        let i = Self::find(&inner, &message)?;
        let m = &mut inner.messages[i];
        if m.state != State::Queued {
            return Err(ApiError::new(
                ErrorCode::NotCancellable,
                format!("{} is {}", m.id, m.state),
            ));
        }
        m.state = State::Cancelled;
        m.history.push(TransitionView {
            state: State::Cancelled,
            at: now_ms(),
            reason: Some("by upstream".into()),
        });
        Ok(m.clone())
    }

    async fn status(&self) -> Result<StatusReport, ApiError> {
        let inner = self.lock();
        let now = now_ms();
        let lanes = Kind::ALL
            .into_iter()
            .map(|kind| {
                let mut lane = LaneStatus::empty(kind);
                lane.queued = inner
                    .messages
                    .iter()
                    .filter(|m| m.kind == kind && m.state == State::Queued)
                    .count() as u64;
                lane
            })
            .collect();
        Ok(StatusReport {
            daemon: DaemonStatus {
                version: "fake".into(),
                started_at: now - 90_000,
                uptime_s: 90,
                now,
            },
            operators: vec![OperatorStatus {
                name: "kcell".into(),
                binds: vec![BindStatus {
                    name: "kcell#1".into(),
                    state: BindState::Up,
                    since: Some(now - 60_000),
                }],
                window_size: 10,
                tps_cap: 50.0,
                ..OperatorStatus::default()
            }],
            lanes,
            queue: QueueStatus {
                depth: inner.messages.len() as u64,
                max_depth: Some(self.max_depth as u64),
            },
            ..StatusReport::default()
        })
    }

    async fn cursor_position(&self, cursor: String) -> Result<u64, ApiError> {
        Ok(self.cursor(&cursor))
    }

    async fn events(&self, after: u64, limit: usize) -> Result<Vec<EventView>, ApiError> {
        let inner = self.lock();
        Ok(inner
            .events
            .iter()
            .filter(|e| e.seq > after)
            .take(limit)
            .cloned()
            .collect())
    }

    async fn ack(&self, cursor: String, seq: u64) -> Result<(), ApiError> {
        let mut inner = self.lock();
        let at = inner.cursors.entry(cursor).or_default();
        *at = (*at).max(seq);
        Ok(())
    }

    fn latest_event(&self) -> watch::Receiver<u64> {
        self.latest.subscribe()
    }

    async fn otp_send(&self, request: OtpSendRequest) -> Result<OtpSent, ApiError> {
        Otp::send(&mut self.lock().otp, request)
    }

    async fn otp_verify(&self, request: OtpVerifyRequest) -> Result<OtpVerdict, ApiError> {
        Ok(Otp::verify(&mut self.lock().otp, request))
    }
}
