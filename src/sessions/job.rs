//! What the sending stage hands a bind, and what comes back.

use crate::message::{Kind, MessageId};
use rusmpp::CommandStatus;
use rusmpp::pdus::{DeliverSm, SubmitSm};
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, oneshot};

/// A message ready for the wire: its SMS parts, in order.
#[derive(Debug)]
pub struct Job {
    /// The message.
    pub id: MessageId,
    /// One submit_sm per part.
    pub parts: Vec<SubmitSm>,
    /// Not to be written to the wire after this (it comes back `NotSent`).
    pub send_by: Option<crate::message::Millis>,
    /// The message's kind (an OTP is urgent, see [`Job::urgent`]).
    pub kind: Kind,
    /// The sending stage's in-flight place it holds until its outcome is recorded.
    pub place: Option<OwnedSemaphorePermit>,
}

impl Job {
    /// An OTP: taken by the binds before any other job and paced ahead of them.
    pub fn urgent(&self) -> bool {
        self.kind == Kind::Otp
    }
}

/// What happened to one part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PartResult {
    /// The operator accepted it with this message_id.
    Accepted(String),
    /// The operator answered with an error status.
    Refused(CommandStatus),
    /// Sent, but no answer came in time; the operator may or may not have it.
    TimedOut,
    /// Sent, but the connection was lost before the answer.
    Lost(String),
    /// Never written to the wire (bind down, shutting down).
    NotSent(String),
}

/// A job's results, reported to the sending stage.
#[derive(Debug)]
pub struct JobOutcome {
    /// The message.
    pub id: MessageId,
    /// The operator it went to.
    pub operator: Arc<str>,
    /// The message's kind (so its outcome needs no look at the record).
    pub kind: Kind,
    /// The job's in-flight place, given back once the outcome is recorded.
    pub place: Option<OwnedSemaphorePermit>,
    /// One result per part, in part order.
    pub results: Vec<PartResult>,
}

/// A deliver_sm from an operator: a receipt or a mobile-originated message.
#[derive(Debug)]
pub struct Incoming {
    /// The operator it came from.
    pub operator: Arc<str>,
    /// The PDU.
    pub pdu: DeliverSm,
    /// Answer `true` once what it carried is stored (deliver_sm_resp OK is sent only then),
    /// `false` to refuse it so that the operator delivers it again later.
    pub stored: oneshot::Sender<bool>,
}
