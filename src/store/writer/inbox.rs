//! The writer's two inboxes: urgent ops (OTP accepts, claims, the flusher's signal) are
//! served before anything already waiting, so an OTP never queues behind a bulk backlog's
//! state changes, and the binds are fed without waiting behind the submit results they
//! produce (a claim loop has one claim out at a time, so claims cannot crowd the rest out).
//! Receipts are not urgent on purpose: queued behind the submit results sent before them,
//! they find their part's id instead of being parked (see `parked`). Two std channels rather
//! than a select crate: the writer only ever blocks on the normal one, and an urgent send
//! also drops a wake-up there.

use super::ops::Op;
use crate::message::Kind;
use std::sync::mpsc::{Receiver, SendError, Sender, channel};

/// The sending side, shared by the store handle and the flusher.
#[derive(Clone)]
pub struct OpSender {
    normal: Sender<Op>,
    urgent: Sender<Op>,
}

/// The writer's receiving side.
pub struct Inbox {
    normal: Receiver<Op>,
    urgent: Receiver<Op>,
    /// A normal op taken while an urgent one was waiting; served right after it.
    held: Option<Op>,
}

/// A connected sender and inbox.
pub fn inbox() -> (OpSender, Inbox) {
    let (normal_tx, normal) = channel();
    let (urgent_tx, urgent) = channel();
    let sender = OpSender {
        normal: normal_tx,
        urgent: urgent_tx,
    };
    let inbox = Inbox {
        normal,
        urgent,
        held: None,
    };
    (sender, inbox)
}

/// True for ops an OTP waits on, claims (every lane's: see the module doc), and the
/// flusher's signal that the next flush may start.
pub fn is_urgent(op: &Op) -> bool {
    match op {
        Op::Accept { messages, .. } => messages.iter().any(|m| m.kind == Kind::Otp),
        Op::Claim { .. } => true,
        Op::FlusherIdle => true,
        _ => false,
    }
}

impl OpSender {
    /// Queues an op for the writer (urgent ones ahead of everything waiting).
    pub fn send(&self, op: Op) -> Result<(), SendError<Op>> {
        if !is_urgent(&op) {
            return self.normal.send(op);
        }
        self.urgent.send(op)?;
        // wakes a writer blocked on the normal inbox
        let _ = self.normal.send(Op::Wake);
        Ok(())
    }
}

impl Inbox {
    /// The next op, urgent ones first; blocks until there is one. None once every sender is
    /// gone.
    pub fn recv(&mut self) -> Option<Op> {
        loop {
            if let Some(op) = self.try_recv() {
                return Some(op);
            }
            match self.normal.recv().ok()? {
                Op::Wake => continue,
                op => match self.urgent.try_recv() {
                    Ok(urgent) => {
                        self.held = Some(op);
                        return Some(urgent);
                    }
                    Err(_) => return Some(op),
                },
            }
        }
    }

    /// The next op if one is waiting, urgent ones first.
    pub fn try_recv(&mut self) -> Option<Op> {
        if let Ok(op) = self.urgent.try_recv() {
            return Some(op);
        }
        if let Some(op) = self.held.take() {
            return Some(op);
        }
        loop {
            match self.normal.try_recv().ok()? {
                // a wake is sent after its urgent op: that op may have arrived since the
                // check above, and swallowing its wake would leave it there until some
                // other op comes (a lost FlusherIdle then held every answer waiting on a flush)
                Op::Wake => {
                    if let Ok(op) = self.urgent.try_recv() {
                        return Some(op);
                    }
                }
                op => return Some(op),
            }
        }
    }
}
