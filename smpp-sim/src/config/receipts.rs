//! Receipt behaviour: delays, outcome mix, validity, the deliver_sm window and re-sending.

use serde::{Deserialize, Serialize};

use crate::error::SimError;

/// How and when delivery receipts come back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReceiptConfig {
    /// Shortest delay between submit_sm and its receipt, in milliseconds.
    pub min_delay_ms: u64,
    /// Longest delay (a uniform pick in `min..=max`; equal values give a fixed delay).
    pub max_delay_ms: u64,
    /// The share of each final outcome for ordinary numbers.
    pub outcomes: OutcomeMix,
    /// Validity the SMSC applies when submit_sm leaves validity_period empty, in seconds.
    pub default_validity_secs: u64,
    /// Most deliver_sm (receipts and MO) outstanding without deliver_sm_resp on one bind.
    pub window: usize,
    /// Wait before re-sending a deliver_sm the ESME refused, in milliseconds.
    pub retry_delay_ms: u64,
    /// How many times a refused deliver_sm is sent before it is dropped.
    pub max_attempts: u32,
    /// Receipts give the message id as the decimal value of the hex id of submit_sm_resp
    /// (in the text's `id:` and in receipted_message_id), as some SMSCs do: `0A1B` becomes
    /// `2587`. Default false.
    pub id_in_decimal: bool,
    /// Receipts carry the receipted_message_id TLV (default true). When false only the text's
    /// `id:` names the message (message_state stays).
    pub receipted_message_id: bool,
    /// The receipt is sent before the submit_sm_resp: queued at once (no delay), and the
    /// submit_sm_resp waits until the receipt's deliver_sm has been written to a connection,
    /// or 2 s at most. Default false.
    pub before_response: bool,
    /// A deliver_sm (receipt or MO) not answered within this many milliseconds of being
    /// written counts once in `deliver_unanswered` and is sent again with a new sequence
    /// number (default 10,000).
    pub response_timeout_ms: u64,
    /// An answer to a deliver_sm later than this many milliseconds after it was written counts
    /// in `deliver_answered_late` (default 1,000; an answer to one already re-sent for want of
    /// an answer always counts).
    pub late_answer_ms: u64,
}

impl Default for ReceiptConfig {
    fn default() -> Self {
        Self {
            min_delay_ms: 0,
            max_delay_ms: 50,
            outcomes: OutcomeMix::default(),
            default_validity_secs: 48 * 3600,
            window: 100,
            retry_delay_ms: 1000,
            max_attempts: 5,
            id_in_decimal: false,
            receipted_message_id: true,
            before_response: false,
            response_timeout_ms: 10_000,
            late_answer_ms: 1_000,
        }
    }
}

impl ReceiptConfig {
    pub(super) fn validate(&self) -> Result<(), SimError> {
        if self.min_delay_ms > self.max_delay_ms {
            return Err(SimError::Config(
                "receipts: min_delay_ms is above max_delay_ms".into(),
            ));
        }
        if self.max_delay_ms > 30 * 86_400_000 || self.retry_delay_ms > 30 * 86_400_000 {
            return Err(SimError::Config(
                "receipts: delays above 30 days are not supported".into(),
            ));
        }
        if self.response_timeout_ms == 0 {
            return Err(SimError::Config(
                "receipts: response_timeout_ms must be at least 1".into(),
            ));
        }
        if self.response_timeout_ms > 30 * 86_400_000 || self.late_answer_ms > 30 * 86_400_000 {
            return Err(SimError::Config(
                "receipts: response_timeout_ms and late_answer_ms above 30 days are not supported"
                    .into(),
            ));
        }
        if self.default_validity_secs > 10 * 365 * 86_400 {
            return Err(SimError::Config(
                "receipts: default_validity_secs above 10 years is not supported".into(),
            ));
        }
        if self.window == 0 || self.max_attempts == 0 {
            return Err(SimError::Config(
                "receipts: window and max_attempts must be at least 1".into(),
            ));
        }
        self.outcomes.validate()
    }
}

/// Relative weights of the final states of ordinary (non-test) numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutcomeMix {
    /// Weight of DELIVRD (default 1).
    pub delivered: f64,
    /// Weight of UNDELIV.
    pub undeliverable: f64,
    /// Weight of EXPIRED.
    pub expired: f64,
    /// Weight of REJECTD.
    pub rejected: f64,
}

impl Default for OutcomeMix {
    fn default() -> Self {
        Self {
            delivered: 1.0,
            undeliverable: 0.0,
            expired: 0.0,
            rejected: 0.0,
        }
    }
}

impl OutcomeMix {
    fn validate(&self) -> Result<(), SimError> {
        let all = [
            self.delivered,
            self.undeliverable,
            self.expired,
            self.rejected,
        ];
        if all.iter().any(|w| !w.is_finite() || *w < 0.0) || all.iter().sum::<f64>() <= 0.0 {
            return Err(SimError::Config(
                "receipts.outcomes: weights must be non-negative with a positive sum".into(),
            ));
        }
        Ok(())
    }
}
