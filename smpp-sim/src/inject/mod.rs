//! PDUs the SMSC can be told to write on a bound connection, to see how the ESME copes with
//! what hostile or sloppy SMSCs send: an unknown command, responses nobody asked for, a
//! deliver_sm whose body cannot be parsed, a very large deliver_sm.
//!
//! Every injected PDU is recorded with its sequence number and the PDUs the ESME sent back
//! carrying that number ([`crate::SimHandle::injected`]).

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::error::SimError;

mod pdus;

pub(crate) use pdus::{c_string, large_deliver_body, malformed_deliver_body, query_sm_resp_body};

/// Smallest large deliver_sm, in octets: the fixed fields (header included), the
/// message_payload TLV header and one octet of text.
pub const LARGE_DELIVER_MIN: usize = 53;
/// Largest large deliver_sm, in octets (the simulator's default `max_pdu_length`).
pub const LARGE_DELIVER_MAX: usize = 70_000;
/// The command_id of [`InjectPdu::UnknownCommand`]: 0x00000099, which SMPP 3.4 does not define.
pub const UNKNOWN_COMMAND_ID: u32 = 0x0000_0099;
/// Unsolicited responses carry sequence numbers from here up (0x7F000001, 0x7F000002, …), a
/// range an ESME numbering its requests from 1 does not reach.
pub const UNSOLICITED_SEQUENCE_BASE: u32 = 0x7F00_0000;
/// The vendor-specific TLV tag (SMPP 3.4: 0x1400–0x3FFF are the SMSC vendor's) that pads a
/// large deliver_sm beyond what one message_payload TLV (at most 65,535 octets) holds.
pub const PADDING_TLV_TAG: u16 = 0x1400;

/// Most records kept by one operator's log (oldest forgotten first).
const MAX_RECORDS: usize = 1_000;
/// Most answers kept per record.
const MAX_ANSWERS: usize = 100;

/// A PDU the SMSC writes on demand ([`crate::SimHandle::inject`]). In JSON and on the control
/// socket the names are kebab-case: `"unknown-command"`, `{"large-deliver-sm": 5000}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InjectPdu {
    /// A header-only PDU with command_id [`UNKNOWN_COMMAND_ID`] (0x00000099), status 0, and a
    /// fresh sequence number of the session. An ESME should answer generic_nack
    /// ESME_RINVCMDID (0x03).
    UnknownCommand,
    /// A submit_sm_resp (0x80000004), status 0, with a message_id, whose sequence number the
    /// ESME never used (from [`UNSOLICITED_SEQUENCE_BASE`] up). An ESME must not answer it.
    UnsolicitedSubmitSmResp,
    /// A query_sm_resp (0x80000003), status 0, for a query the ESME never sent (sequence from
    /// [`UNSOLICITED_SEQUENCE_BASE`] up). An ESME must not answer it.
    UnexpectedResponse,
    /// A deliver_sm with intact framing (command_length is what is written) whose body cannot
    /// be parsed: sm_length says 200 while 9 octets follow. Never re-sent.
    MalformedDeliverSm,
    /// A legal mobile-originated deliver_sm of exactly this many octets, tracked like any other
    /// (window, answer, re-sending). See [`crate::FaultSettings::large_deliver_after_bind`].
    LargeDeliverSm(usize),
}

impl InjectPdu {
    /// Parses the control-socket name (`unknown-command`, `unsolicited-submit-sm-resp`,
    /// `unexpected-response`, `malformed-deliver-sm`, `large-deliver-sm` with `octets`).
    pub fn parse(name: &str, octets: Option<usize>) -> Result<Self, SimError> {
        let pdu =
            match name {
                "unknown-command" => Self::UnknownCommand,
                "unsolicited-submit-sm-resp" => Self::UnsolicitedSubmitSmResp,
                "unexpected-response" => Self::UnexpectedResponse,
                "malformed-deliver-sm" => Self::MalformedDeliverSm,
                "large-deliver-sm" => Self::LargeDeliverSm(octets.ok_or_else(|| {
                    SimError::InvalidFault("large-deliver-sm needs octets".into())
                })?),
                other => {
                    return Err(SimError::InvalidFault(format!(
                        "unknown PDU to inject {other:?} (unknown-command, \
                     unsolicited-submit-sm-resp, unexpected-response, malformed-deliver-sm, \
                     large-deliver-sm)"
                    )));
                }
            };
        pdu.validate()?;
        Ok(pdu)
    }

    /// Checks the size of a large deliver_sm.
    pub fn validate(&self) -> Result<(), SimError> {
        match *self {
            Self::LargeDeliverSm(octets) => check_large(octets),
            _ => Ok(()),
        }
    }

    /// Whether the PDU is a response (any PDU the ESME sends with its sequence number answers
    /// a response, which an ESME must never do).
    pub fn is_response(&self) -> bool {
        matches!(
            self,
            Self::UnsolicitedSubmitSmResp | Self::UnexpectedResponse
        )
    }
}

/// One injected PDU and what the ESME sent back with its sequence number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Injected {
    /// What was written.
    pub pdu: InjectPdu,
    /// Its sequence_number.
    pub sequence: u32,
    /// `(command_id, command_status)` of every PDU from the ESME carrying that sequence number
    /// on that connection, in arrival order: responses for an injected request, anything at all
    /// for an injected response (PDUs whose body does not decode are not recorded).
    pub answers: Vec<(u32, u32)>,
}

/// Checks a large deliver_sm size is within [`LARGE_DELIVER_MIN`]..=[`LARGE_DELIVER_MAX`].
pub(crate) fn check_large(octets: usize) -> Result<(), SimError> {
    if (LARGE_DELIVER_MIN..=LARGE_DELIVER_MAX).contains(&octets) {
        Ok(())
    } else {
        Err(SimError::InvalidFault(format!(
            "a large deliver_sm must be {LARGE_DELIVER_MIN}..={LARGE_DELIVER_MAX} octets, \
             not {octets}"
        )))
    }
}

/// The injected PDUs of one operator, oldest first, with the id each was logged under.
#[derive(Debug, Default)]
pub(crate) struct InjectLog {
    records: VecDeque<(u64, Injected)>,
    next: u64,
}

impl InjectLog {
    /// Logs a written PDU; returns the id answers are recorded under.
    pub fn add(&mut self, pdu: InjectPdu, sequence: u32) -> u64 {
        let id = self.next;
        self.next += 1;
        self.records.push_back((
            id,
            Injected {
                pdu,
                sequence,
                answers: Vec::new(),
            },
        ));
        while self.records.len() > MAX_RECORDS {
            self.records.pop_front();
        }
        id
    }

    /// Records a PDU the ESME sent with the sequence number of record `id`.
    pub fn answer(&mut self, id: u64, command_id: u32, status: u32) {
        let Some(first) = self.records.front().map(|(first, _)| *first) else {
            return;
        };
        let Some(index) = id.checked_sub(first).and_then(|i| usize::try_from(i).ok()) else {
            return;
        };
        if let Some((_, record)) = self.records.get_mut(index)
            && record.answers.len() < MAX_ANSWERS
        {
            record.answers.push((command_id, status));
        }
    }

    /// Every record, oldest first.
    pub fn all(&self) -> Vec<Injected> {
        self.records.iter().map(|(_, r)| r.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_sizes_are_checked() {
        assert_eq!(
            InjectPdu::parse("unknown-command", None).unwrap(),
            InjectPdu::UnknownCommand
        );
        assert_eq!(
            InjectPdu::parse("large-deliver-sm", Some(5000)).unwrap(),
            InjectPdu::LargeDeliverSm(5000)
        );
        assert!(InjectPdu::parse("large-deliver-sm", None).is_err());
        assert!(InjectPdu::parse("large-deliver-sm", Some(10)).is_err());
        assert!(InjectPdu::parse("bomb", None).is_err());
        let json = serde_json::to_string(&InjectPdu::LargeDeliverSm(7)).unwrap();
        assert_eq!(json, r#"{"large-deliver-sm":7}"#);
    }

    #[test]
    fn the_log_is_bounded_and_answers_find_their_record() {
        let mut log = InjectLog::default();
        let first = log.add(InjectPdu::UnknownCommand, 1);
        log.answer(first, 0x8000_0000, 3);
        for n in 0..MAX_RECORDS as u32 {
            log.add(InjectPdu::MalformedDeliverSm, n + 2);
        }
        log.answer(first, 0x8000_0000, 3); // forgotten: ignored
        let all = log.all();
        assert_eq!(all.len(), MAX_RECORDS);
        assert_eq!(all[0].sequence, 2);
        assert!(all.iter().all(|r| r.answers.is_empty()));
    }
}
