//! `khabar otp send|verify`: one-time passwords for an identification session.

use super::{CliError, CliResult, Exit};
use crate::api::Client;
use crate::api::protocol::{OtpResult, OtpSent, OtpVerdict};
use clap::{Args, Subcommand};
use serde_json::{Map, Value, json};

/// Help text of `khabar otp`.
pub(crate) const AFTER_HELP: &str = "\
A code is valid for one identification session only; a wrong code is refused at once.

Examples:
  khabar otp send --to +77011234567 --session egov-7f3a
  khabar otp verify --session egov-7f3a --code 042917";

const SEND_HELP: &str = "\
Sends a fresh code by SMS, valid for that session only, and prints the SMS's message id and
when the code expires. Asking too often is refused with rate_limited and a retry time.

Examples:
  khabar otp send --to +77011234567 --session egov-7f3a
  khabar otp send --to 87051234567 --session egov-91c2 --purpose registration --ttl 5m --language ru";

const VERIFY_HELP: &str = "\
Prints the result: ok, wrong_code (with attempts left), expired, already_used,
too_many_attempts or unknown_session. Exit code 0 only for ok, 1 otherwise.

Example:
  khabar otp verify --session egov-7f3a --code 042917";

/// `khabar otp …`.
#[derive(Debug, Subcommand)]
pub(crate) enum OtpCommand {
    /// Send a one-time password for an identification session.
    #[command(after_help = SEND_HELP)]
    Send(OtpSendArgs),
    /// Check a one-time password a person typed.
    #[command(after_help = VERIFY_HELP)]
    Verify(OtpVerifyArgs),
}

/// Arguments of `khabar otp send`.
#[derive(Debug, Args)]
pub(crate) struct OtpSendArgs {
    /// Recipient: +77011234567, 77011234567 or 87011234567.
    #[arg(long)]
    to: String,
    /// Your identification-session id; the code is valid for it only.
    #[arg(long)]
    session: String,
    /// What the code is for, named in the SMS.
    #[arg(long)]
    purpose: Option<String>,
    /// Digits in the code (default: the daemon's).
    #[arg(long)]
    length: Option<u32>,
    /// How long the code is valid, e.g. 5m (default: the daemon's).
    #[arg(long)]
    ttl: Option<String>,
    /// Language of the SMS.
    #[arg(long, value_parser = ["kk", "ru"])]
    language: Option<String>,
}

/// Arguments of `khabar otp verify`.
#[derive(Debug, Args)]
pub(crate) struct OtpVerifyArgs {
    /// The identification session the code was sent for.
    #[arg(long)]
    session: String,
    /// The code as typed.
    #[arg(long)]
    code: String,
}

/// Runs `khabar otp …`.
pub(crate) async fn run(mut client: Client, command: OtpCommand) -> CliResult {
    match command {
        OtpCommand::Send(a) => {
            let mut request = Map::new();
            request.insert("op".into(), json!("otp_send"));
            request.insert("to".into(), json!(a.to));
            request.insert("session".into(), json!(a.session));
            for (key, value) in [
                ("purpose", a.purpose),
                ("ttl", a.ttl),
                ("language", a.language),
            ] {
                if let Some(v) = value {
                    request.insert(key.into(), json!(v));
                }
            }
            if let Some(n) = a.length {
                request.insert("length".into(), json!(n));
            }
            let sent: OtpSent = client
                .call(Value::Object(request))
                .await?
                .map_err(CliError::Refused)?;
            println!("{}", sent.message_id);
            eprintln!("code valid until {}", super::display::time(sent.expires_at));
            Ok(Exit::Ok)
        }
        OtpCommand::Verify(a) => {
            let verdict: OtpVerdict = client
                .call(json!({"op": "otp_verify", "session": a.session, "code": a.code}))
                .await?
                .map_err(CliError::Refused)?;
            let name = serde_json::to_value(verdict.result)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_else(|| "other".into());
            match verdict.attempts_left {
                Some(1) => println!("{name} (1 attempt left)"),
                Some(n) => println!("{name} ({n} attempts left)"),
                None => println!("{name}"),
            }
            Ok(if verdict.result == OtpResult::Ok {
                Exit::Ok
            } else {
                Exit::Refused
            })
        }
    }
}
