//! Message states for query_sm: ENROUTE until the planned outcome time, then the final state.

use std::collections::{HashMap, VecDeque};
use std::time::{Instant, SystemTime};

use chrono::{DateTime, Utc};
use rusmpp::values::MessageState;

use crate::receipt::{FinalState, Plan};

#[derive(Debug, Clone, Copy)]
struct Tracked {
    due: Instant,
    done_at: SystemTime,
    state: Option<FinalState>,
}

/// What query_sm reports about a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryAnswer {
    /// The current state.
    pub state: MessageState,
    /// `YYMMDDhhmmss000+` (UTC) once final, empty before.
    pub final_date: String,
    /// Network error code (0 when delivered or pending).
    pub error_code: u8,
}

/// The states of the last `cap` parts accepted by one operator, keyed by id counter.
#[derive(Debug)]
pub(crate) struct Tracker {
    states: HashMap<u64, Tracked>,
    order: VecDeque<u64>,
    cap: usize,
}

impl Tracker {
    pub fn new(cap: usize) -> Self {
        Self {
            states: HashMap::new(),
            order: VecDeque::new(),
            cap,
        }
    }

    /// Remembers the plan of the part whose id has counter `counter`.
    pub fn insert(&mut self, counter: u64, plan: &Plan) {
        let now = Instant::now();
        self.states.insert(
            counter,
            Tracked {
                due: now + plan.after,
                done_at: SystemTime::now() + plan.after,
                state: plan.state,
            },
        );
        self.order.push_back(counter);
        while self.order.len() > self.cap {
            if let Some(old) = self.order.pop_front() {
                self.states.remove(&old);
            }
        }
    }

    /// The state of a tracked part now, or `None` for an unknown id.
    pub fn query(&self, counter: u64) -> Option<QueryAnswer> {
        let t = self.states.get(&counter)?;
        let pending = QueryAnswer {
            state: MessageState::Enroute,
            final_date: String::new(),
            error_code: 0,
        };
        match t.state {
            Some(state) if Instant::now() >= t.due => Some(QueryAnswer {
                state: state.message_state(),
                final_date: DateTime::<Utc>::from(t.done_at)
                    .format("%y%m%d%H%M%S000+")
                    .to_string(),
                error_code: state.err().parse().unwrap_or(0),
            }),
            _ => Some(pending),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn pending_then_final_and_bounded() {
        let mut t = Tracker::new(2);
        t.insert(
            1,
            &Plan {
                state: Some(FinalState::Delivered),
                after: Duration::ZERO,
            },
        );
        t.insert(
            2,
            &Plan {
                state: Some(FinalState::Undeliverable),
                after: Duration::from_secs(3600),
            },
        );
        let done = t.query(1).unwrap();
        assert_eq!(done.state, MessageState::Delivered);
        assert_eq!(done.final_date.len(), 16);
        assert_eq!(t.query(2).unwrap().state, MessageState::Enroute);
        t.insert(
            3,
            &Plan {
                state: None,
                after: Duration::ZERO,
            },
        );
        assert!(t.query(1).is_none());
        assert_eq!(t.query(3).unwrap().state, MessageState::Enroute);
    }
}
