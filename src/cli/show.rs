//! `khabar show`: one message's story.

use super::display::{number, time, time_ms, time_or_dash};
use super::{CliError, CliResult, Exit};
use crate::api::Client;
use crate::api::protocol::MessageRef;
use crate::api::views::MessageView;
use crate::message::{Kind, MessageId};
use clap::Args;
use std::fmt::Write;

const AFTER_HELP: &str = "\
Prints the message's header (kind, recipient, sender, deadlines, text unless erased), every
state it went through with time and reason, and each SMS part with its operator message id
and receipt. Times are Asia/Almaty.

Examples:
  khabar show 0190f3a2b4c5d6e7
  khabar show --ref crm-42
  khabar show 0190f3a2b4c5d6e7 --json";

/// Arguments of `khabar show`.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub(crate) struct ShowArgs {
    /// The message id (16 hex digits).
    #[arg(required_unless_present = "reference", conflicts_with = "reference")]
    id: Option<MessageId>,
    /// Find the message by your reference instead.
    #[arg(long = "ref", value_name = "REF")]
    reference: Option<String>,
    /// Print the message as JSON (the socket's `get` payload).
    #[arg(long)]
    json: bool,
}

/// `ID` or `--ref REF` as a message reference.
pub(crate) fn message_ref(id: Option<MessageId>, reference: Option<String>) -> MessageRef {
    match (id, reference) {
        (Some(id), _) => MessageRef::Id(id),
        (None, r) => MessageRef::Reference(r.unwrap_or_default()),
    }
}

/// Runs `khabar show`.
pub(crate) async fn run(mut client: Client, args: ShowArgs) -> CliResult {
    let target = message_ref(args.id, args.reference);
    let message = client.get(&target).await?.map_err(CliError::Refused)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&message).unwrap_or_default()
        );
    } else {
        print!("{}", render(&message));
    }
    Ok(Exit::Ok)
}

/// The story as text.
pub(crate) fn render(m: &MessageView) -> String {
    let mut out = String::new();
    let mut field = |name: &str, value: String| {
        let _ = writeln!(out, "{name:<12} {value}");
    };
    field("message", m.id.to_string());
    if let Some(r) = &m.reference {
        field("reference", r.clone());
    }
    field("kind", m.kind.to_string());
    field("recipient", number(&m.recipient));
    field(
        "sender",
        m.sender
            .clone()
            .unwrap_or_else(|| "(operator default)".into()),
    );
    field("state", m.state.to_string());
    field("operator", m.operator.clone().unwrap_or_else(|| "-".into()));
    field("created", time(m.created));
    let send_by = match &m.send_by_rule {
        Some(rule) if m.send_by.is_some() => format!("{}  ({rule})", time_or_dash(m.send_by)),
        _ => time_or_dash(m.send_by),
    };
    field("send by", send_by);
    if let Some(until) = m.held_until {
        field(
            "held",
            format!("until {} (per-recipient limit)", time(until)),
        );
    }
    field("receipt by", time_or_dash(m.receipt_by));
    if let Some(w) = m.reply_window_s {
        field("reply window", super::display::age(w));
    }
    field("attempts", m.attempts.to_string());
    if let Some(t) = &m.template {
        field("template", t.clone());
    }
    let text = match (&m.text, m.kind) {
        (Some(text), _) => text.clone(),
        (None, Kind::Otp) => "(hidden: one-time password)".into(),
        (None, _) => "(erased)".into(),
    };
    field("text", text);
    out.push_str("\nhistory\n");
    for t in &m.history {
        let reason = t.reason.as_deref().unwrap_or("");
        let line = format!("  {}  {:<13} {reason}", time_ms(t.at), t.state.as_str());
        let _ = writeln!(out, "{}", line.trim_end());
    }
    if !m.parts.is_empty() {
        out.push_str("\nparts\n");
        for p in &m.parts {
            let _ = write!(
                out,
                "  {}  operator id {}",
                p.number,
                p.operator_id.as_deref().unwrap_or("-")
            );
            match &p.receipt {
                Some(stat) => {
                    let _ = write!(out, "  receipt {stat}");
                    if let Some(err) = &p.error {
                        let _ = write!(out, " err {err}");
                    }
                    let _ = writeln!(out, " at {}", time_or_dash(p.receipt_at));
                }
                None => out.push_str("  no receipt yet\n"),
            }
        }
    }
    out
}
