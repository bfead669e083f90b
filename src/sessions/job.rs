//! What the sending stage hands a bind, and what comes back.

use crate::message::{Kind, MessageId};
use rusmpp::CommandStatus;
use rusmpp::pdus::{DeliverSm, SubmitSm};
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, oneshot};

/// A message ready for the wire: the SMS parts still to send, in order.
#[derive(Debug)]
pub struct Job {
    /// The message.
    pub id: MessageId,
    /// The parts the operator has not acknowledged yet: (index among the message's parts,
    /// its submit_sm).
    pub parts: Vec<(u32, SubmitSm)>,
    /// How many parts the message has in all.
    pub total_parts: u32,
    /// The concatenation reference the parts carry (a multi-part message).
    pub concat_ref: Option<u16>,
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
    /// The operator answered with an error status (throttling only once retrying on the
    /// bind stopped helping).
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
    /// How many parts the message has in all.
    pub total_parts: u32,
    /// The concatenation reference the parts carried.
    pub concat_ref: Option<u16>,
    /// One result per part sent: (part index, result), in part order.
    pub results: Vec<(u32, PartResult)>,
}

impl JobOutcome {
    /// The outcome of a job none of whose parts went on the wire.
    pub fn not_sent(job: Job, operator: &Arc<str>, why: &str) -> Self {
        let results = job
            .parts
            .iter()
            .map(|(index, _)| (*index, PartResult::NotSent(why.to_owned())))
            .collect();
        JobOutcome {
            id: job.id,
            operator: operator.clone(),
            kind: job.kind,
            place: job.place,
            total_parts: job.total_parts,
            concat_ref: job.concat_ref,
            results,
        }
    }
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
