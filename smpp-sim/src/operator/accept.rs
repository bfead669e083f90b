//! What a submit_sm the checks passed sets off: the message id, query state, receipt,
//! stored part, duplicate and resubmission counts, subscriber replies.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rusmpp::CommandStatus;
use rusmpp::pdus::SubmitSm;
use tokio::sync::Notify;
use tracing::{debug, warn};

use super::Operator;
use crate::config::ReceiptConfig;
use crate::delivery::Pending;
use crate::receipt::{self, FinalState, ReceiptJob};
use crate::stats::Counters;
use crate::store::Part;
use crate::submit::{self, TestNumber};
use crate::text::mask_number;
use crate::told;

/// A part the operator accepted.
#[derive(Debug)]
pub(crate) struct Accepted {
    /// The id to answer with.
    pub message_id: String,
    /// The part's fingerprint, to mark once the ESME is told (`resubmitted_after_ok`).
    pub fingerprint: u64,
    /// With `before_response`, notified once the part's receipt has been written: the
    /// submit_sm_resp waits for it.
    pub receipt_written: Option<Arc<Notify>>,
}

impl Operator {
    /// Remembers that the ESME was told the part `print` was accepted.
    pub fn told_ok(&self, print: u64) {
        self.told
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(print);
    }

    fn was_told(&self, print: u64) -> bool {
        self.told
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(print)
    }

    /// Accepts (or refuses) a submit_sm: what was accepted, or the status to answer.
    pub fn accept(&self, sm: &SubmitSm) -> Result<Accepted, CommandStatus> {
        let sub = submit::check(sm)?;
        let test = self
            .sim
            .test_numbers
            .then(|| TestNumber::of(&sub.destination))
            .flatten();
        if test == Some(TestNumber::Refused) {
            return Err(CommandStatus::EsmeRinvdstadr);
        }
        let (message_id, counter) = self.sim.ids.next();
        let fingerprint = told::fingerprint(&self.name, &sub);
        if self.was_told(fingerprint) {
            Counters::bump(&self.counters.resubmitted_after_ok);
        }
        // A plain copy (no heap fields), so the lock is not held while scheduling.
        let config = self.receipts.borrow().clone();
        let plan = if config.before_response {
            let at_once = ReceiptConfig {
                min_delay_ms: 0,
                max_delay_ms: 0,
                ..config.clone()
            };
            receipt::plan(&at_once, test, sub.validity)
        } else {
            receipt::plan(&config, test, sub.validity)
        };
        self.tracker().insert(counter, &plan);
        let mut receipt_written = None;
        if let Some(state) = plan.state
            && sub.receipt.wants(state == FinalState::Delivered)
        {
            let submitted = SystemTime::now();
            let job = ReceiptJob {
                message_id: if config.id_in_decimal {
                    receipt::decimal_id(&message_id)
                } else {
                    message_id.clone()
                },
                source: sub.source.clone(),
                destination: sub.destination.clone(),
                state,
                submitted,
                done: submitted + plan.after,
                payload: sub.payload.clone(),
                coding: sub.coding,
            };
            Counters::bump(&self.counters.receipts_scheduled);
            receipt_written = config.before_response.then(|| Arc::new(Notify::new()));
            let pending = Pending::Receipt {
                job: Box::new(job),
                receipted_id: config.receipted_message_id,
                written: receipt_written.clone(),
            };
            self.delivery.schedule(pending, plan.after);
        }
        debug!(operator = %self.name, to = %mask_number(&sub.destination), id = %message_id, "submit accepted");
        let replies = self.sim.replies();
        // The reply goes from the handset back to the sender.
        let reply_route =
            (!replies.is_empty()).then(|| (sub.destination.clone(), sub.source.clone()));
        let recorded = self.sim.store.record(
            Part {
                operator: self.name.clone(),
                source: sub.source,
                destination: sub.destination,
                data_coding: sub.data_coding,
                coding: sub.coding,
                payload: sub.payload,
                concat: sub.concat,
                message_id: message_id.clone(),
            },
            !replies.is_empty(),
        );
        Counters::bump(&self.counters.parts);
        if recorded.completed {
            Counters::bump(&self.counters.messages);
        }
        if recorded.duplicate {
            Counters::bump(&self.counters.duplicates);
        }
        if let (Some(text), Some((from, to))) = (recorded.text, reply_route) {
            for rule in replies.iter().filter(|r| r.matches(&self.name, &text)) {
                let delay = Duration::from_millis(rule.delay_ms);
                if let Err(e) = self.inject_mo(&from, &to, &rule.reply, delay) {
                    warn!(operator = %self.name, error = %e, "subscriber reply not sent");
                }
            }
        }
        Ok(Accepted {
            message_id,
            fingerprint,
            receipt_written,
        })
    }
}
