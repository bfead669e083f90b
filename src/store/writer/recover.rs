//! Restart recovery: messages caught in `submitting` (handed to a session, no submit_sm_resp
//! recorded for some part) go back to the queue, so those parts are sent again; nothing the
//! operator acknowledged (a part with its id, a `submitted` message) is sent again.

use super::history_view::HistoryView;
use super::layers::Staged;
use super::state::WriterState;
use super::tx::Tx;
use crate::message::{Millis, State};
use crate::store::engine::Db;
use crate::store::error::StoreError;
use crate::store::history::History;
use crate::store::layout::keys;
use crate::store::rules::{RESTARTED, transition};

/// Requeues every in-flight message at `now`; returns the new bookkeeping and how many.
pub fn recover_in_flight(
    db: &Db,
    history: &std::sync::Arc<History>,
    state: &WriterState,
    now: Millis,
) -> Result<(WriterState, usize), StoreError> {
    let staged = Staged::default();
    let view = HistoryView::new(history.clone());
    let mut tx = Tx::new(db, &staged, &Default::default(), state, &view);
    let mut requeued = 0;
    for kv in db.scan_prefix(keys::IN_FLIGHT) {
        let (key, value) = kv?;
        // afterwards nothing is in flight: every marker goes, whatever it names
        tx.remove(key.to_vec());
        for id in keys::in_flight_ids(&key, &value) {
            if tx.load_live(id)?.map(|(m, _)| m.state) != Some(State::Submitting) {
                continue; // landed, or named twice
            }
            let mut message = tx.load_for_update(id)?;
            // parts whose acknowledgement is on disk keep it: only the others are resent
            message.next_try = now;
            transition(
                &mut tx,
                &mut message,
                State::Queued,
                now,
                Some(RESTARTED.to_owned()),
            )?;
            requeued += 1;
        }
    }
    let state = tx.stage().state;
    staged.apply(db, &state)?;
    if requeued > 0 {
        db.flush()?;
    }
    Ok((state, requeued))
}
