//! The event log and durable cursors, as the socket shows them.

use super::GatewayBackend;
use super::errors::{not_changed, not_read};
use crate::api::error::{ApiError, ErrorCode};
use crate::api::views::{EventType, EventView};
use crate::store::{Event, StoreError, StoredEvent};

/// A stored event as the socket shows it (parts numbered from 1).
pub(super) fn event_view(stored: StoredEvent) -> EventView {
    let seq = stored.seq;
    match stored.event {
        Event::StateChanged {
            id,
            reference,
            state,
            reason,
            at,
            ..
        } => EventView {
            seq,
            kind: EventType::StateChanged,
            at,
            message_id: Some(id),
            reference,
            state: Some(state),
            reason,
            ..EventView::default()
        },
        Event::Receipt {
            id,
            reference,
            part,
            stat,
            error,
            at,
        } => EventView {
            seq,
            kind: EventType::Receipt,
            at,
            message_id: Some(id),
            reference,
            part: Some(part.saturating_add(1)),
            stat: Some(stat),
            error,
            ..EventView::default()
        },
        Event::ReceiptOverdue {
            id,
            reference,
            receipt_by,
            at,
        } => EventView {
            seq,
            kind: EventType::ReceiptOverdue,
            at,
            message_id: Some(id),
            reference,
            receipt_by: Some(receipt_by),
            ..EventView::default()
        },
        Event::Reply {
            id,
            reference,
            class,
            from,
            text,
            at,
        } => EventView {
            seq,
            kind: EventType::Reply,
            at,
            message_id: id,
            reference,
            from: Some(from),
            text: Some(text),
            class,
            ..EventView::default()
        },
        Event::ReplyWindowClosed {
            id,
            reference,
            follow_up_id,
            at,
        } => EventView {
            seq,
            kind: EventType::ReplyWindowClosed,
            at,
            message_id: Some(id),
            reference,
            reason: Some(crate::requests::NO_REPLY.to_owned()),
            follow_up_id: Some(follow_up_id),
            ..EventView::default()
        },
    }
}

impl GatewayBackend {
    /// The last seq acknowledged on a durable cursor.
    pub(super) async fn cursor_at(&self, cursor: &str) -> Result<u64, ApiError> {
        self.store().cursor(cursor).await.map_err(|e| not_read(&e))
    }

    /// Up to `limit` events after `after`.
    pub(super) async fn read_events(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<EventView>, ApiError> {
        let events = self
            .store()
            .read_events(after, limit)
            .await
            .map_err(|e| not_read(&e))?;
        Ok(events.into_iter().map(event_view).collect())
    }

    /// Moves a durable cursor forward, durably.
    pub(super) async fn ack_cursor(&self, cursor: &str, seq: u64) -> Result<(), ApiError> {
        match self.store().ack_cursor(cursor, seq).await {
            Ok(()) => Ok(()),
            Err(StoreError::Invalid(why)) => {
                Err(ApiError::field(ErrorCode::InvalidRequest, "seq", why))
            }
            Err(e) => Err(not_changed(&e)),
        }
    }
}
