//! The order in which messages reached the simulator: positions of given recipients in its
//! arrival list (oldest first), waited for with `PATIENCE`.

use super::daemon_support::PATIENCE;
use smpp_sim::{ReceivedMessage, SimHandle};
use std::collections::HashSet;
use std::time::Duration;

/// Where the first message to `to` stands in the simulator's arrival order, if it came.
pub fn position(arrivals: &[ReceivedMessage], to: &str) -> Option<usize> {
    arrivals.iter().position(|m| m.destination == to)
}

/// Waits until a message to every number in `to` has reached the simulator; returns the
/// arrival list as it was then.
pub async fn wait_for_recipients(sim: &SimHandle, to: &[String]) -> Vec<ReceivedMessage> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let arrivals = sim.messages();
        let missing = to
            .iter()
            .filter(|n| position(&arrivals, n).is_none())
            .count();
        if missing == 0 {
            return arrivals;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{missing} of {} messages never reached the simulator",
            to.len()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// How many of the first `n` arrivals went to a number in `among`.
pub fn count_in_first(arrivals: &[ReceivedMessage], n: usize, among: &HashSet<String>) -> usize {
    arrivals
        .iter()
        .take(n)
        .filter(|m| among.contains(&m.destination))
        .count()
}
