//! `smpp-sim ctl`: one request to the control socket, the answer printed.

use serde_json::Value;
use smpp_sim::SimError;
use smpp_sim::control::{Request, default_socket_path, request};
use smpp_sim::stats::{OperatorStats, report};

use crate::cli::{CtlArgs, CtlRequest};

/// Sends the request and prints the answer; an `ok: false` answer is an error.
pub async fn run(args: CtlArgs) -> Result<(), SimError> {
    let path = args.socket.unwrap_or_else(default_socket_path);
    let (req, table) = match args.request {
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
    let answer = request(&path, &req).await?;
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
