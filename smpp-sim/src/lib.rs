//! smpp-sim: an SMPP 3.4 SMSC simulator standing in for Kazakhstan's mobile operators in
//! khabar's tests and benchmarks.
//!
//! Each simulated operator listens on its own port with its own account, accepts binds,
//! checks and answers submit_sm, keeps the received messages (decoded, concatenated parts
//! reassembled), sends delivery receipts and mobile-originated messages, and can be switched
//! into faults at runtime ([`FaultSettings`], [`Fault`]). A port speaks plain SMPP, or SMPP
//! over TLS only when the operator's config has a [`TlsConfig`]
//! (`tls = { cert_file = "…", key_file = "…" }`): the same sessions then run over the TLS
//! stream, and failed handshakes are counted ([`OperatorStats`]: `tls_handshake_failures`).
//!
//! It also behaves like the SMSCs and hostile peers that find an ESME's protocol faults: it
//! nacks submits, pauses its writes, refuses binds, sends large deliver_sm, closes or unbinds
//! bound connections ([`SimHandle::unbind`]), writes PDUs an ESME must cope with
//! ([`SimHandle::inject`], [`InjectPdu`]) and records the answers ([`SimHandle::injected`]),
//! sends receipts as other operators do ([`ReceiptConfig`]: decimal ids, no
//! receipted_message_id, receipt before the answer, re-sending unanswered deliver_sm), and
//! counts what the ESME got wrong ([`OperatorStats`]: `resubmitted_after_ok`,
//! `generic_nacks_ok_status`, `answers_to_responses`, `deliver_unanswered`, …).
//!
//! The receipts and MO an operator still owes when it stops can be taken out
//! ([`SimHandle::shutdown_and_take_pending`], [`OwedDeliveries`]) and given to a simulator
//! started later ([`SimHandle::restore_pending`]), as an embedding daemon does across its
//! restarts.
//!
//! ```no_run
//! # async fn demo() -> Result<(), smpp_sim::SimError> {
//! use std::time::Duration;
//! let sim = smpp_sim::Simulator::start(smpp_sim::SimConfig::ephemeral()).await?;
//! let port = sim.port("kcell")?;
//! // ... bind to 127.0.0.1:port as system_id "kcell", password "secret", submit ...
//! let messages = sim.wait_for_messages(1, Duration::from_secs(30)).await?;
//! sim.shutdown().await;
//! # let _ = (port, messages); Ok(()) }
//! ```

#![warn(missing_docs)]

mod actions;
pub mod codec;
pub mod config;
pub mod control;
pub mod ctl;
mod delivery;
pub mod error;
pub mod faults;
pub mod inject;
mod links;
pub mod message_id;
mod mo;
mod operator;
mod rate;
pub mod receipt;
mod session;
mod simulator;
pub mod stats;
mod store;
pub mod submit;
pub mod text;
mod tls;
mod told;
pub mod tracker;
pub mod udh;

pub use config::{OperatorConfig, OutcomeMix, ReceiptConfig, ReplyRule, SimConfig, TlsConfig};
pub use delivery::{OwedDeliver, OwedDeliveries, OwedKind};
pub use error::SimError;
pub use faults::{Fault, FaultSettings};
pub use inject::{InjectPdu, Injected};
pub use simulator::{OperatorInfo, SimHandle, Simulator};
pub use stats::OperatorStats;
pub use store::ReceivedMessage;
pub use tracker::QueryAnswer;
