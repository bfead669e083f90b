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
    /// The flush job that carries the copies being made (one job's at a time).
    pub(super) copies_job: Option<u64>,
    /// Copied to the history by that job: id and the live bytes copied.
    pub(super) copying: Vec<(MessageId, Vec<u8>)>,
    /// Copied and durable: their live copies are deleted in the next group.
    pub(super) copied: Vec<(MessageId, Vec<u8>)>,
    /// The start-up sweep's next live record key; None once it has walked them all.
    pub(super) sweep: Option<Vec<u8>>,
    /// Every event up to this seq is durable in the history.
    pub(super) events_copied: u64,
    /// The events that job copies reach this seq.
    pub(super) events_copying: Option<u64>,
    /// Seq and time of each event being copied (what trimming counts before it lands).
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

    /// Every event up to this seq is in the history once the copies being made are durable.
    pub fn events_copied_or_copying(&self) -> u64 {
        self.events_copying.unwrap_or(self.events_copied)
    }

    /// Seq and time of each event being copied to the history.
    pub fn events_in_flight(&self) -> &[(u64, Millis)] {
        &self.events_in_flight
    }

    /// Notes live messages that became final at `at`.
    pub fn finished(&mut self, ids: Vec<MessageId>, at: Millis) {
        self.finished.extend(ids.into_iter().map(|id| (at, id)));
    }

    /// True while copies made earlier are not durable yet (no new ones are made meanwhile).
    pub fn copies_pending(&self) -> bool {
        self.copies_job.is_some()
    }

    /// Notes that flush job `job` carries the copies just made, if any.
    pub fn copies_go_with(&mut self, job: u64) {
        if !self.copying.is_empty() || self.events_copying.is_some() {
            self.copies_job = Some(job);
        }
    }

    /// The history writes of flush job `job` and those before it are durable: if the copies
    /// went with one of them, their live copies may go (and readers may now read those events
    /// in the history).
    pub fn durable(&mut self, job: u64, shared: &Shared) {
        if self.copies_job.is_none_or(|carried| carried > job) {
            return;
        }
        self.copies_job = None;
        self.copied.append(&mut self.copying);
        if let Some(through) = self.events_copying.take() {
            self.events_in_flight.clear();
            self.events_copied = through;
            shared.events_in_history.store(through, Ordering::Release);
        }
    }
}
