//! What the writer knows of finished messages on their way to the history tier (see
//! [`super::moves`] for the two steps): which finished when, which are being copied, which
//! copies are durable, and how far the events have moved.

use super::state::Shared;
use crate::message::{MessageId, Millis};
use crate::store::layout::keys;
use std::sync::atomic::Ordering;

/// The writer's moving work.
#[derive(Default)]
pub struct Moves {
    /// Live messages made final, with when, oldest first.
    pub(super) finished: std::collections::VecDeque<(Millis, MessageId)>,
    /// Copied to the history by the flush job in flight: id and the live bytes copied.
    pub(super) copying: Vec<(MessageId, Vec<u8>)>,
    /// Copied and durable: their live copies are deleted in the next group.
    pub(super) copied: Vec<(MessageId, Vec<u8>)>,
    /// The start-up sweep's next live record key; None once it has walked them all.
    pub(super) sweep: Option<Vec<u8>>,
    /// Every event up to this seq is durable in the history.
    pub(super) events_copied: u64,
    /// The events the flush job in flight copies reach this seq.
    pub(super) events_copying: Option<u64>,
    /// Seq and time of each event that job copies (what trimming counts before it lands).
    pub(super) events_in_flight: Vec<(u64, Millis)>,
}

impl Moves {
    /// Moving work for a store just opened, whose history holds the events up to
    /// `events_copied`: the sweep starts at the first live record.
    pub fn starting(events_copied: u64) -> Self {
        Moves {
            sweep: Some(keys::RECORD.to_vec()),
            events_copied,
            ..Moves::default()
        }
    }

    /// Every event up to this seq is durable in the history.
    pub fn events_copied(&self) -> u64 {
        self.events_copied
    }

    /// Every event up to this seq is in the history once the flush job in flight is done.
    pub fn events_copied_or_copying(&self) -> u64 {
        self.events_copying.unwrap_or(self.events_copied)
    }

    /// Seq and time of each event the flush job in flight copies to the history.
    pub fn events_in_flight(&self) -> &[(u64, Millis)] {
        &self.events_in_flight
    }

    /// Notes live messages that became final at `at`.
    pub fn finished(&mut self, ids: Vec<MessageId>, at: Millis) {
        self.finished.extend(ids.into_iter().map(|id| (at, id)));
    }

    /// The flush job in flight is done: its copies are durable (readers may now read those
    /// events in the history).
    pub fn copies_durable(&mut self, shared: &Shared) {
        self.copied.append(&mut self.copying);
        if let Some(through) = self.events_copying.take() {
            self.events_in_flight.clear();
            self.events_copied = through;
            shared.events_in_history.store(through, Ordering::Release);
        }
    }
}
