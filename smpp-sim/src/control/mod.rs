//! The control socket: newline-delimited JSON over a Unix socket, so a shell (`smpp-sim ctl`,
//! `socat`, `nc -U`) can read stats, inject MO and switch faults on a running simulator.
//!
//! Requests (one JSON object per line) and their answers:
//!
//! | request | answer |
//! | --- | --- |
//! | `{"cmd":"stats"}` | `{"ok":true,"stats":[{"operator":"kcell","submits":3,…},…]}` |
//! | `{"cmd":"operators"}` | `{"ok":true,"operators":[{"name":"kcell","addr":"127.0.0.1:2775",…}]}` |
//! | `{"cmd":"messages","last":10}` | `{"ok":true,"messages":[{"operator":"kcell","text":…},…]}` |
//! | `{"cmd":"clear"}` | `{"ok":true}` |
//! | `{"cmd":"inject_mo","operator":"kcell","from":"77011234567","to":"1414","text":"Иә"}` | `{"ok":true,"parts":1}` |
//! | `{"cmd":"fault","operator":"kcell","kind":"throttle","value":0.1}` | `{"ok":true,"faults":{…}}` |
//! | `{"cmd":"faults","operator":"kcell"}` | `{"ok":true,"faults":{…}}` |
//! | `{"cmd":"unbind","operator":"kcell"}` | `{"ok":true,"connections":2}` |
//! | `{"cmd":"inject","operator":"kcell","pdu":"unknown-command"}` | `{"ok":true,"connections":1}` |
//! | `{"cmd":"inject","operator":"kcell","pdu":"large-deliver-sm","octets":5000}` | `{"ok":true,"connections":1}` |
//! | `{"cmd":"injected","operator":"kcell"}` | `{"ok":true,"injected":[{"pdu":"unknown-command","sequence":7,"answers":[[2147483648,3]]}]}` |
//! | `{"cmd":"bind_times","operator":"kcell"}` | `{"ok":true,"bind_ms_ago":[5230,12]}` |
//!
//! `inject` takes `unknown-command`, `unsolicited-submit-sm-resp`, `unexpected-response`,
//! `malformed-deliver-sm` or `large-deliver-sm` (with `octets`); see [`crate::InjectPdu`].
//! Any failure answers `{"ok":false,"error":"…"}` and the connection stays usable.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::SimError;
use crate::faults::Fault;
use crate::inject::InjectPdu;
use crate::simulator::SimHandle;

mod server;

pub use server::{ControlServer, default_socket_path, request};

/// One control request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// Counters of every operator.
    Stats,
    /// Addresses and credentials.
    Operators,
    /// The newest received messages.
    Messages {
        /// How many (default 20).
        #[serde(default = "default_last")]
        last: usize,
    },
    /// Forget received messages.
    Clear,
    /// Send a mobile-originated message.
    InjectMo {
        /// Operator name.
        operator: String,
        /// The subscriber's number.
        from: String,
        /// The service number or sender id it replies to.
        to: String,
        /// The text.
        text: String,
    },
    /// Switch one fault.
    Fault {
        /// Operator name.
        operator: String,
        /// `throttle`, `throttle-tps`, `queue-full`, `nack`, `delay`, `drop-after`,
        /// `drop-probability`, `hang`, `pause`, `refuse-binds`, `large-after-bind`,
        /// `close-after-bind`, `down`, `up` or `clear`.
        kind: String,
        /// The value, when the kind takes one (number or string).
        #[serde(default)]
        value: Option<Value>,
    },
    /// Current fault switches of an operator.
    Faults {
        /// Operator name.
        operator: String,
    },
    /// The SMSC sends unbind on every bound connection of an operator and closes each after
    /// its unbind_resp (or 5 s).
    Unbind {
        /// Operator name.
        operator: String,
    },
    /// Write a PDU on every bound connection of an operator that can receive.
    Inject {
        /// Operator name.
        operator: String,
        /// `unknown-command`, `unsolicited-submit-sm-resp`, `unexpected-response`,
        /// `malformed-deliver-sm` or `large-deliver-sm`.
        pdu: String,
        /// Size of a `large-deliver-sm`, in octets.
        #[serde(default)]
        octets: Option<usize>,
    },
    /// The PDUs injected on an operator and what the ESME sent back.
    Injected {
        /// Operator name.
        operator: String,
    },
    /// How long ago each successful bind of an operator happened (milliseconds, oldest first).
    BindTimes {
        /// Operator name.
        operator: String,
    },
}

fn default_last() -> usize {
    20
}

/// Answers one request against a running simulator.
pub fn answer(sim: &SimHandle, request: Request) -> Value {
    let result: Result<Value, SimError> = (|| match request {
        Request::Stats => Ok(json!({ "stats": sim.stats() })),
        Request::Operators => {
            let ops: Vec<Value> = sim
                .operators()
                .into_iter()
                .map(|o| {
                    json!({
                        "name": o.name,
                        "addr": o.addr.to_string(),
                        "system_id": o.system_id,
                        "tls": o.tls,
                    })
                })
                .collect();
            Ok(json!({ "operators": ops }))
        }
        Request::Messages { last } => Ok(json!({ "messages": sim.last_messages(last) })),
        Request::Clear => {
            sim.clear_messages();
            Ok(json!({}))
        }
        Request::InjectMo {
            operator,
            from,
            to,
            text,
        } => {
            let parts = sim.inject_mo(&operator, &from, &to, &text)?;
            Ok(json!({ "parts": parts }))
        }
        Request::Fault {
            operator,
            kind,
            value,
        } => {
            let value = value.map(|v| match v {
                Value::String(s) => s,
                other => other.to_string(),
            });
            let fault = Fault::parse(&kind, value.as_deref())?;
            sim.apply_fault(&operator, &fault)?;
            faults_json(sim, &operator)
        }
        Request::Faults { operator } => faults_json(sim, &operator),
        Request::Unbind { operator } => Ok(json!({ "connections": sim.unbind(&operator)? })),
        Request::Inject {
            operator,
            pdu,
            octets,
        } => {
            let pdu = InjectPdu::parse(&pdu, octets)?;
            Ok(json!({ "connections": sim.inject(&operator, pdu)? }))
        }
        Request::Injected { operator } => Ok(json!({ "injected": sim.injected(&operator)? })),
        Request::BindTimes { operator } => {
            let now = std::time::Instant::now();
            let ago: Vec<u64> = sim
                .bind_times(&operator)?
                .into_iter()
                .map(|t| {
                    u64::try_from(now.saturating_duration_since(t).as_millis()).unwrap_or(u64::MAX)
                })
                .collect();
            Ok(json!({ "bind_ms_ago": ago }))
        }
    })();
    match result {
        Ok(Value::Object(mut fields)) => {
            fields.insert("ok".into(), Value::Bool(true));
            Value::Object(fields)
        }
        Ok(other) => json!({ "ok": true, "result": other }),
        Err(e) => json!({ "ok": false, "error": e.to_string() }),
    }
}

/// The fault switches of `operator`, with the time left of a hang or a pause.
fn faults_json(sim: &SimHandle, operator: &str) -> Result<Value, SimError> {
    let faults = sim.faults(operator)?;
    let hang = faults.hang_remaining().map(|d| d.as_millis() as u64);
    let pause = faults.pause_remaining().map(|d| d.as_millis() as u64);
    Ok(json!({ "faults": faults, "hang_remaining_ms": hang, "pause_remaining_ms": pause }))
}
