//! Delivery receipt text: parsing the `short_message` of a receipt deliver_sm, and matching
//! the receipt's message id to the one submit_sm_resp returned (by the rules of
//! [`crate::operator_id`]).
//!
//! The format is the de-facto one of SMPP 3.4 Appendix B:
//!
//! ```text
//! id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD err:E text:...
//! ```
//!
//! Operators bend it: fields go missing, extra fields appear, keys change case (`Stat:`) or
//! spelling (`submit_date:`), dates carry seconds, and `text:` (the first characters of the
//! message) runs to the end and may contain anything. [`parse_receipt`] takes all of that.
//!
//! Because the `text:` of an OTP's receipt holds the code, `ReceiptText`'s `Debug` shows only
//! its length and parse errors never quote the input.

use crate::message::State;
use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use std::fmt;

/// The final or intermediate state a receipt (or the message_state TLV) reports.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ReceiptStat {
    /// SCHEDULED (SMPP 5.0): waiting for its scheduled delivery time.
    Scheduled,
    /// ENROUTE: in the SMSC, delivery in progress or retrying.
    Enroute,
    /// DELIVRD: delivered to the handset.
    Delivered,
    /// EXPIRED: validity period passed before delivery.
    Expired,
    /// DELETED: deleted in the SMSC (e.g. by cancel_sm).
    Deleted,
    /// UNDELIV: undeliverable (unknown subscriber, barred, …).
    Undeliverable,
    /// ACCEPTD: read on the subscriber's behalf by customer care (final in SMPP).
    Accepted,
    /// UNKNOWN: the SMSC does not know the message's state.
    Unknown,
    /// REJECTD: rejected by the SMSC or network.
    Rejected,
    /// SKIPPED (SMPP 5.0): skipped, e.g. by a subscriber preference.
    Skipped,
    /// Any other `stat:` value, upper-cased.
    Other(String),
}

impl ReceiptStat {
    /// Reads a `stat:` value, case-insensitively; long spellings (`DELIVERED`) are accepted.
    pub fn parse(value: &str) -> ReceiptStat {
        match value.trim().to_ascii_uppercase().as_str() {
            "SCHEDULED" | "SCHEDLD" => ReceiptStat::Scheduled,
            "ENROUTE" => ReceiptStat::Enroute,
            "DELIVRD" | "DELIVERED" => ReceiptStat::Delivered,
            "EXPIRED" => ReceiptStat::Expired,
            "DELETED" => ReceiptStat::Deleted,
            "UNDELIV" | "UNDELIVERABLE" | "UNDELIVERED" => ReceiptStat::Undeliverable,
            "ACCEPTD" | "ACCEPTED" => ReceiptStat::Accepted,
            "UNKNOWN" => ReceiptStat::Unknown,
            "REJECTD" | "REJECTED" => ReceiptStat::Rejected,
            "SKIPPED" => ReceiptStat::Skipped,
            other => ReceiptStat::Other(other.to_owned()),
        }
    }

    /// The state carried by the `message_state` TLV (0x0427): 0 SCHEDULED … 9 SKIPPED, per
    /// SMPP 3.4 §5.3.2.35 and 5.0. Values outside that range become `Other("STATE<n>")`.
    pub fn from_message_state(state: u8) -> ReceiptStat {
        match state {
            0 => ReceiptStat::Scheduled,
            1 => ReceiptStat::Enroute,
            2 => ReceiptStat::Delivered,
            3 => ReceiptStat::Expired,
            4 => ReceiptStat::Deleted,
            5 => ReceiptStat::Undeliverable,
            6 => ReceiptStat::Accepted,
            7 => ReceiptStat::Unknown,
            8 => ReceiptStat::Rejected,
            9 => ReceiptStat::Skipped,
            n => ReceiptStat::Other(format!("STATE{n}")),
        }
    }

    /// The canonical `stat:` spelling (`DELIVRD`, `UNDELIV`, …).
    pub fn as_str(&self) -> &str {
        match self {
            ReceiptStat::Scheduled => "SCHEDULED",
            ReceiptStat::Enroute => "ENROUTE",
            ReceiptStat::Delivered => "DELIVRD",
            ReceiptStat::Expired => "EXPIRED",
            ReceiptStat::Deleted => "DELETED",
            ReceiptStat::Undeliverable => "UNDELIV",
            ReceiptStat::Accepted => "ACCEPTD",
            ReceiptStat::Unknown => "UNKNOWN",
            ReceiptStat::Rejected => "REJECTD",
            ReceiptStat::Skipped => "SKIPPED",
            ReceiptStat::Other(other) => other,
        }
    }

    /// True when SMPP defines the state as final: no later receipt will change it.
    /// SCHEDULED, ENROUTE, UNKNOWN and unrecognised values are not final.
    pub fn is_final(&self) -> bool {
        self.final_state().is_some()
    }

    /// The message state a final receipt moves a part to; None while not final.
    /// DELETED, REJECTD and SKIPPED count as undeliverable; ACCEPTD (read by customer care,
    /// final in SMPP) counts as delivered.
    pub fn final_state(&self) -> Option<State> {
        match self {
            ReceiptStat::Delivered | ReceiptStat::Accepted => Some(State::Delivered),
            ReceiptStat::Expired => Some(State::Expired),
            ReceiptStat::Deleted
            | ReceiptStat::Undeliverable
            | ReceiptStat::Rejected
            | ReceiptStat::Skipped => Some(State::Undeliverable),
            ReceiptStat::Scheduled
            | ReceiptStat::Enroute
            | ReceiptStat::Unknown
            | ReceiptStat::Other(_) => None,
        }
    }
}

impl fmt::Display for ReceiptStat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The fields of a delivery receipt text. Everything but `id` may be absent.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct ReceiptText {
    /// The operator's message id, as written in the receipt (see [`crate::operator_id`]).
    pub id: String,
    /// `sub:` number of messages originally submitted.
    pub sub: Option<u32>,
    /// `dlvrd:` number of messages delivered.
    pub dlvrd: Option<u32>,
    /// `submit date:` in the SMSC's local time (no zone is given).
    pub submit_date: Option<NaiveDateTime>,
    /// `done date:` in the SMSC's local time.
    pub done_date: Option<NaiveDateTime>,
    /// `stat:` the message state.
    pub stat: Option<ReceiptStat>,
    /// `err:` the network/SMSC error code, verbatim (e.g. `000`).
    pub err: Option<String>,
    /// `text:` the start of the message, verbatim to the end of the receipt.
    pub text: Option<String>,
    /// Fields not listed above, as (lower-case key, value), in order.
    pub extra: Vec<(String, String)>,
}

impl fmt::Debug for ReceiptText {
    /// Like a derived Debug, but `text` (which may hold an OTP) shows only its length.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReceiptText")
            .field("id", &self.id)
            .field("sub", &self.sub)
            .field("dlvrd", &self.dlvrd)
            .field("submit_date", &self.submit_date)
            .field("done_date", &self.done_date)
            .field("stat", &self.stat)
            .field("err", &self.err)
            .field(
                "text",
                &self
                    .text
                    .as_ref()
                    .map(|t| format!("<{} chars>", t.chars().count())),
            )
            .field("extra", &self.extra)
            .finish()
    }
}

impl fmt::Display for ReceiptText {
    /// Formats in the SMPP 3.4 Appendix B layout, omitting absent fields; dates carry seconds
    /// only when they are not zero.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "id:{}", self.id)?;
        if let Some(sub) = self.sub {
            write!(f, " sub:{sub:03}")?;
        }
        if let Some(dlvrd) = self.dlvrd {
            write!(f, " dlvrd:{dlvrd:03}")?;
        }
        if let Some(date) = self.submit_date {
            write!(f, " submit date:{}", format_date(date))?;
        }
        if let Some(date) = self.done_date {
            write!(f, " done date:{}", format_date(date))?;
        }
        if let Some(stat) = &self.stat {
            write!(f, " stat:{stat}")?;
        }
        if let Some(err) = &self.err {
            write!(f, " err:{err}")?;
        }
        for (key, value) in &self.extra {
            write!(f, " {key}:{value}")?;
        }
        if let Some(text) = &self.text {
            write!(f, " text:{text}")?;
        }
        Ok(())
    }
}

/// Why a receipt text could not be parsed. Messages never quote the text (it may hold an OTP).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptParseError {
    /// The short_message was empty.
    #[error("the delivery receipt text is empty")]
    Empty,
    /// No `key:value` fields at all: probably not a receipt.
    #[error("the text has no receipt fields (id:, stat:, …); it is not a delivery receipt")]
    NotAReceipt,
    /// Fields, but no (or an empty) `id:`.
    #[error("the delivery receipt has no message id (`id:` field missing or empty)")]
    MissingId,
}

/// Parses a delivery receipt text. Unparseable numbers and dates become `None` rather than
/// failing the receipt; only a missing id is an error.
pub fn parse_receipt(input: &str) -> Result<ReceiptText, ReceiptParseError> {
    if input.trim().is_empty() {
        return Err(ReceiptParseError::Empty);
    }
    let fields = split_fields(input);
    if fields.is_empty() {
        return Err(ReceiptParseError::NotAReceipt);
    }
    let mut receipt = ReceiptText::default();
    let mut id = None;
    for (key, value) in fields {
        let trimmed = value.trim();
        match key.as_str() {
            "id" => {
                id.get_or_insert(trimmed);
            }
            "sub" => receipt.sub = receipt.sub.or_else(|| trimmed.parse().ok()),
            "dlvrd" => receipt.dlvrd = receipt.dlvrd.or_else(|| trimmed.parse().ok()),
            "submitdate" => receipt.submit_date = receipt.submit_date.or(parse_date(trimmed)),
            "donedate" => receipt.done_date = receipt.done_date.or(parse_date(trimmed)),
            "stat" => {
                receipt
                    .stat
                    .get_or_insert_with(|| ReceiptStat::parse(trimmed));
            }
            "err" => {
                receipt.err.get_or_insert_with(|| trimmed.to_owned());
            }
            "text" => receipt.text = Some(value.to_owned()),
            _ => receipt.extra.push((key, trimmed.to_owned())),
        }
    }
    match id {
        Some(id) if !id.is_empty() => receipt.id = id.to_owned(),
        _ => return Err(ReceiptParseError::MissingId),
    }
    Ok(receipt)
}

/// Splits a receipt into (normalised key, raw value) pairs. A key is a word of ASCII letters,
/// digits or '_' at the start or after whitespace, followed by ':'; `submit date` and
/// `done date` are two words. Keys are lower-cased with spaces and '_' removed. Everything
/// after `text:` is its value.
fn split_fields(input: &str) -> Vec<(String, &str)> {
    let bytes = input.as_bytes();
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let word_end = |from: usize| {
        (from..bytes.len())
            .find(|&j| !is_word(bytes[j]))
            .unwrap_or(bytes.len())
    };
    // (key, start of key, start of value)
    let mut starts: Vec<(String, usize, usize)> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let at_boundary = i == 0 || bytes[i - 1].is_ascii_whitespace();
        if !(at_boundary && bytes[i].is_ascii_alphabetic()) {
            i += 1;
            continue;
        }
        let end = word_end(i);
        let first = input[i..end].to_ascii_lowercase();
        let mut key_end = None;
        if bytes.get(end) == Some(&b':') {
            key_end = Some(end);
        } else if (first == "submit" || first == "done")
            && bytes.get(end) == Some(&b' ')
            && bytes.get(end + 1).is_some_and(|b| b.is_ascii_alphabetic())
        {
            let second_end = word_end(end + 1);
            if bytes.get(second_end) == Some(&b':') {
                key_end = Some(second_end);
            }
        }
        let Some(key_end) = key_end else {
            i = end.max(i + 1);
            continue;
        };
        let key: String = input[i..key_end]
            .chars()
            .filter(|c| *c != ' ' && *c != '_')
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let is_text = key == "text";
        starts.push((key, i, key_end + 1));
        if is_text {
            break;
        }
        i = key_end + 1;
    }
    let mut fields = Vec::with_capacity(starts.len());
    for (index, (key, _, value_start)) in starts.iter().enumerate() {
        let value_end = starts.get(index + 1).map_or(bytes.len(), |next| next.1);
        fields.push((key.clone(), &input[*value_start..value_end]));
    }
    fields
}

/// Reads `YYMMDDhhmm`, `YYMMDDhhmmss` or `YYYYMMDDhhmmss` (two-digit years are 20YY).
fn parse_date(value: &str) -> Option<NaiveDateTime> {
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let num = |range: std::ops::Range<usize>| value.get(range)?.parse::<u32>().ok();
    let (year, rest) = match value.len() {
        10 | 12 => (2000 + num(0..2)? as i32, 2),
        14 => (num(0..4)? as i32, 4),
        _ => return None,
    };
    let second = if value.len() == 10 {
        0
    } else {
        num(rest + 8..rest + 10)?
    };
    NaiveDate::from_ymd_opt(year, num(rest..rest + 2)?, num(rest + 2..rest + 4)?)?.and_hms_opt(
        num(rest + 4..rest + 6)?,
        num(rest + 6..rest + 8)?,
        second,
    )
}

/// Writes a date as `YYMMDDhhmm`, adding seconds when not zero; years outside 2000–2099 use
/// the four-digit form `YYYYMMDDhhmmss`.
fn format_date(date: NaiveDateTime) -> String {
    if !(2000..2100).contains(&date.year()) {
        return date.format("%Y%m%d%H%M%S").to_string();
    }
    if date.second() == 0 {
        date.format("%y%m%d%H%M").to_string()
    } else {
        date.format("%y%m%d%H%M%S").to_string()
    }
}

#[cfg(test)]
mod tests;
