//! Cheap counters for `khabar status`, maintained by the writer in the same atomic write as
//! every state change (so they survive restarts without a scan).

use crate::message::{Kind, State};
use serde::{Deserialize, Serialize};

fn state_index(state: State) -> usize {
    State::ALL.iter().position(|s| *s == state).unwrap_or(0)
}

/// How many stored messages are in each state, and how many are queued in each lane.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Messages per state, indexed like [`State::ALL`].
    pub states: [u64; 10],
    /// Queued messages per lane (`Kind::lane`).
    pub queued: [u64; 4],
}

impl Counts {
    /// Messages in `state`.
    pub fn in_state(&self, state: State) -> u64 {
        self.states[state_index(state)]
    }

    /// Queued messages of `kind`.
    pub fn queued_in(&self, kind: Kind) -> u64 {
        self.queued[kind.lane() as usize]
    }

    /// Every stored message.
    pub fn total(&self) -> u64 {
        self.states.iter().sum()
    }

    /// Counts a new message of `kind` in `state`.
    pub fn add(&mut self, kind: Kind, state: State) {
        self.add_many(kind, state, 1);
    }

    /// Counts `n` messages of `kind` in `state`.
    pub fn add_many(&mut self, kind: Kind, state: State, n: u64) {
        self.states[state_index(state)] += n;
        if state == State::Queued {
            self.queued[kind.lane() as usize] += n;
        }
    }

    /// Uncounts a message of `kind` in `state` (it was forgotten).
    pub fn remove(&mut self, kind: Kind, state: State) {
        let slot = &mut self.states[state_index(state)];
        *slot = slot.saturating_sub(1);
        if state == State::Queued {
            let lane = &mut self.queued[kind.lane() as usize];
            *lane = lane.saturating_sub(1);
        }
    }

    /// Moves a message of `kind` from one state to another.
    pub fn moved(&mut self, kind: Kind, from: State, to: State) {
        if from != to {
            self.remove(kind, from);
            self.add(kind, to);
        }
    }
}
