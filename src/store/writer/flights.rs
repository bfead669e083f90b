//! In-flight runs: the ids one claim takes to `submitting` are marked with one key, `f/<seq>`,
//! which stays until the last of them has left `submitting`. A marker per message cost two
//! engine writes per message (put at claim, remove at submit) and split and merged the
//! engine's leaves all the time; a run costs two writes per claim.
//!
//! The writer counts, in memory, how many of each run are still `submitting`. It starts with
//! none: opening the store requeues everything caught in `submitting` and drops every marker
//! (`recover.rs`). Readers see the ids of a run that have left `submitting` too, so they load
//! each record and look at its state.

use super::layers::Group;
use crate::message::MessageId;
use crate::store::layout::codec;
use crate::store::layout::keys;
use std::collections::HashMap;

/// The ids an operation moved into and out of `submitting`.
#[derive(Default)]
pub struct FlightChanges {
    /// Now `submitting`, in claim order.
    pub entered: Vec<MessageId>,
    /// No longer `submitting`.
    pub left: Vec<MessageId>,
}

impl FlightChanges {
    /// True when the operation moved nothing into or out of `submitting`.
    pub fn is_empty(&self) -> bool {
        self.entered.is_empty() && self.left.is_empty()
    }
}

/// The writer's count of live in-flight runs.
#[derive(Default)]
pub struct Flights {
    run_of: HashMap<MessageId, u64>,
    still_flying: HashMap<u64, usize>,
}

impl Flights {
    /// Stages one operation's changes: a new run for the ids it claimed (numbered `seq`, taken
    /// only when there are any), and the removal of every run it emptied.
    pub fn stage(
        &mut self,
        changes: FlightChanges,
        next_seq: impl FnOnce() -> u64,
        group: &mut Group,
    ) {
        if !changes.entered.is_empty() {
            let seq = next_seq();
            let run = codec::pack_ids(&changes.entered);
            group.writes.insert(keys::in_flight_run(seq), Some(run));
            self.still_flying.insert(seq, changes.entered.len());
            for id in changes.entered {
                self.run_of.insert(id, seq);
            }
        }
        for id in changes.left {
            let Some(seq) = self.run_of.remove(&id) else {
                continue;
            };
            let Some(count) = self.still_flying.get_mut(&seq) else {
                continue;
            };
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.still_flying.remove(&seq);
                group.writes.insert(keys::in_flight_run(seq), None);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(range: std::ops::Range<u64>) -> Vec<MessageId> {
        range.map(MessageId).collect()
    }

    #[test]
    fn a_run_is_dropped_when_its_last_message_lands() {
        let mut flights = Flights::default();
        let mut group = Group::default();
        let mut seq = 0;
        let mut next = || {
            seq += 1;
            seq
        };
        let claim = FlightChanges {
            entered: ids(1..4),
            left: vec![],
        };
        flights.stage(claim, &mut next, &mut group);
        let key = keys::in_flight_run(1);
        let run = group.writes.get(&key).cloned().flatten().unwrap();
        assert_eq!(keys::in_flight_ids(&key, &run), ids(1..4));

        let two_land = FlightChanges {
            entered: vec![],
            left: ids(1..3),
        };
        flights.stage(two_land, &mut next, &mut group);
        assert!(group.writes.get(&key).unwrap().is_some(), "one still flies");

        let last = FlightChanges {
            entered: vec![],
            left: ids(3..4),
        };
        flights.stage(last, &mut next, &mut group);
        assert_eq!(group.writes.get(&key), Some(&None), "the run is removed");
        assert_eq!(
            seq, 1,
            "no run is numbered for an operation that claimed nothing"
        );
    }

    #[test]
    fn ids_it_never_counted_change_nothing() {
        let mut flights = Flights::default();
        let mut group = Group::default();
        let unknown = FlightChanges {
            entered: vec![],
            left: ids(7..9),
        };
        flights.stage(unknown, || unreachable!(), &mut group);
        assert!(group.writes.is_empty());
    }
}
