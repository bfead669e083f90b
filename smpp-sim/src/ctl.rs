//! `ctl` requests from a shell: the command-line form of every control request, and running
//! one against a simulator's control socket with its answer printed. Used by
//! `smpp-sim ctl` and by khabar's `khabar sim`, which talks to its embedded simulator.

use std::path::Path;

use clap::Subcommand;
use serde_json::Value;

use crate::SimError;
use crate::control::{self, Request};
use crate::stats::{OperatorStats, report};

/// Requests `smpp-sim ctl` (and `khabar sim`) can send.
#[derive(Debug, Subcommand)]
pub enum CtlRequest {
    /// Counters of every operator.
    Stats {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Addresses and system_ids of the operators.
    Operators,
    /// The newest received messages, as JSON lines.
    Messages {
        /// How many.
        #[arg(long, default_value_t = 20)]
        last: usize,
    },
    /// Forget the received messages.
    Clear,
    /// Send a mobile-originated message to the operator's receiver binds.
    InjectMo {
        /// Operator name.
        #[arg(long)]
        operator: String,
        /// The subscriber's number.
        #[arg(long)]
        from: String,
        /// The service number or sender id.
        #[arg(long, default_value = "1414")]
        to: String,
        /// The text (UCS-2 when it is not GSM 7-bit).
        #[arg(long)]
        text: String,
    },
    /// Switch a fault: throttle SHARE | throttle-tps N|off | queue-full SHARE | nack SHARE |
    /// delay MS | drop-after N|off | drop-probability P | hang MS | pause MS | refuse-binds N |
    /// large-after-bind OCTETS|off | close-after-bind MS|off | down | up | clear.
    Fault {
        /// Operator name.
        operator: String,
        /// The fault kind.
        kind: String,
        /// Its value, when it takes one.
        value: Option<String>,
    },
    /// Show an operator's fault switches.
    Faults {
        /// Operator name.
        operator: String,
    },
    /// The SMSC sends unbind on every bound connection of the operator, then closes each
    /// after its unbind_resp (or 5 s).
    Unbind {
        /// Operator name.
        operator: String,
    },
    /// Write a PDU on every receiving connection of the operator: unknown-command |
    /// unsolicited-submit-sm-resp | unexpected-response | malformed-deliver-sm |
    /// large-deliver-sm OCTETS.
    Inject {
        /// Operator name.
        operator: String,
        /// The PDU.
        pdu: String,
        /// Size of a large-deliver-sm, in octets.
        octets: Option<usize>,
    },
    /// The PDUs injected on the operator and what the ESME answered, as JSON.
    Injected {
        /// Operator name.
        operator: String,
    },
    /// How many milliseconds ago each successful bind of the operator happened.
    BindTimes {
        /// Operator name.
        operator: String,
    },
}

/// Sends the request and prints the answer; an `ok: false` answer is an error.
pub async fn run(path: &Path, request: CtlRequest) -> Result<(), SimError> {
    let (req, table) = match request {
        CtlRequest::Stats { json } => (Request::Stats, !json),
        CtlRequest::Operators => (Request::Operators, false),
        CtlRequest::Messages { last } => (Request::Messages { last }, false),
        CtlRequest::Clear => (Request::Clear, false),
        CtlRequest::InjectMo {
            operator,
            from,
            to,
            text,
        } => (
            Request::InjectMo {
                operator,
                from,
                to,
                text,
            },
            false,
        ),
        CtlRequest::Fault {
            operator,
            kind,
            value,
        } => (
            Request::Fault {
                operator,
                kind,
                value: value.map(Value::String),
            },
            false,
        ),
        CtlRequest::Faults { operator } => (Request::Faults { operator }, false),
        CtlRequest::Unbind { operator } => (Request::Unbind { operator }, false),
        CtlRequest::Inject {
            operator,
            pdu,
            octets,
        } => (
            Request::Inject {
                operator,
                pdu,
                octets,
            },
            false,
        ),
        CtlRequest::Injected { operator } => (Request::Injected { operator }, false),
        CtlRequest::BindTimes { operator } => (Request::BindTimes { operator }, false),
    };
    let answer = control::request(path, &req).await?;
    if answer.get("ok") != Some(&Value::Bool(true)) {
        let why = answer
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("unknown error");
        return Err(SimError::Control(why.to_string()));
    }
    if table && let Some(stats) = answer.get("stats") {
        let stats: Vec<OperatorStats> = serde_json::from_value(stats.clone())
            .map_err(|e| SimError::Control(format!("bad stats: {e}")))?;
        print!("{}", report(&stats));
        return Ok(());
    }
    if let Some(Value::Array(messages)) = answer.get("messages") {
        for m in messages {
            println!("{m}");
        }
        return Ok(());
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&answer).unwrap_or_default()
    );
    Ok(())
}
