//! Answering ops with the store's failure: once a storage failure has tripped the fail-stop
//! (see [`super::failure`]), every op and every answer waiting for a flush gets the error.

use super::ops::Op;
use super::thread::Writer;
use crate::store::error::StoreError;

impl Writer {
    /// Answers `op` with `error` without touching the store; true when the writer should stop.
    pub(super) fn refuse(&mut self, op: Op, error: StoreError) -> bool {
        match op {
            Op::Accept { messages, reply } => {
                let _ = reply.send(vec![Err(error); messages.len()]);
            }
            Op::Change { reply, .. } => _ = reply.send(Err(error)),
            Op::Claim { reply, .. } => _ = reply.send(Err(error)),
            Op::Fire { reply, .. } => _ = reply.send(Err(error)),
            Op::Retention { reply, .. } => _ = reply.send(Err(error)),
            Op::TrimEvents { reply, .. } => _ = reply.send(Err(error)),
            Op::Receipt { reply, .. } => _ = reply.send(Err(error)),
            Op::DropParked { reply, .. } => _ = reply.send(Err(error)),
            Op::AppendEvent { reply, .. } => _ = reply.send(Err(error)),
            Op::AckCursor { reply, .. } => _ = reply.send(Err(error)),
            Op::Verify { reply } => _ = reply.send(Err(error)),
            Op::Flush { reply } => _ = reply.send(Err(error)),
            Op::FlusherIdle => self.flusher_busy = false,
            Op::HistoryDurable { .. } => {}
            Op::Wake => {}
            Op::Shutdown => return true,
        }
        false
    }

    /// Answers every gathered accept and every answer waiting for a flush with `error`.
    pub(super) fn refuse_waiting(&mut self, error: &StoreError) {
        let mut gathered = std::mem::take(&mut self.accepts);
        gathered.append(&mut self.urgent_accepts);
        for (messages, reply) in gathered {
            let _ = reply.send(vec![Err(error.clone()); messages.len()]);
        }
        for answer in std::mem::take(&mut self.pending) {
            answer(Err(error.clone()));
        }
        self.new_events = None;
    }
}
