//! `khabar events`: tail the event stream, optionally from a durable cursor.

use super::display::{number, time};
use super::{CliResult, Exit};
use crate::api::Client;
use crate::api::views::{EventType, EventView};
use clap::Args;
use std::io::Write;

const AFTER_HELP: &str = "\
Without --from, prints events as they happen from now on. With --from CURSOR, resumes the
durable cursor of that name where it was last acknowledged and acknowledges each event
after printing it, so the next run continues without gaps or repeats. --since SEQ starts at
that event instead (1: replay everything still kept).

Examples:
  khabar events
  khabar events --from ops-audit
  khabar events --from ops-audit --since 1 --json
  khabar events --count 10";

/// Arguments of `khabar events`.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub(crate) struct EventsArgs {
    /// Durable cursor name: resume where it left off and acknowledge printed events.
    #[arg(long = "from", value_name = "CURSOR")]
    cursor: Option<String>,
    /// Start at this event seq instead.
    #[arg(long, value_name = "SEQ")]
    since: Option<u64>,
    /// Stop after this many events.
    #[arg(long, value_name = "N")]
    count: Option<u64>,
    /// Print each event as a JSON line.
    #[arg(long)]
    json: bool,
}

/// Runs `khabar events`.
pub(crate) async fn run(client: Client, args: EventsArgs) -> CliResult {
    let mut stream = client.subscribe(args.cursor.as_deref(), args.since).await?;
    let mut seen = 0u64;
    while args.count.is_none_or(|n| seen < n) {
        let event = tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            event = stream.next_event() => event?,
        };
        let line = if args.json {
            serde_json::to_string(&event).unwrap_or_default()
        } else {
            render(&event)
        };
        let mut stdout = std::io::stdout().lock();
        if writeln!(stdout, "{line}")
            .and_then(|()| stdout.flush())
            .is_err()
        {
            // The reader went away (e.g. `| head`): stop without acknowledging.
            break;
        }
        drop(stdout);
        if args.cursor.is_some() {
            stream.ack(event.seq).await?;
        }
        seen += 1;
    }
    if args.cursor.is_some() {
        // Make sure the last ack is stored before leaving.
        stream.finish().await?;
    }
    Ok(Exit::Ok)
}

/// One event as a line for a person.
fn render(e: &EventView) -> String {
    let mut line = format!("#{} {} {:<17}", e.seq, time(e.at), type_name(e.kind));
    if let Some(id) = e.message_id {
        line += &format!(" {id}");
    }
    if let Some(r) = &e.reference {
        line += &format!(" ref={r}");
    }
    if let Some(s) = e.state {
        line += &format!(" {s}");
    }
    if let Some(p) = e.part {
        line += &format!(" part {p}");
    }
    if let Some(stat) = &e.stat {
        line += &format!(" {stat}");
    }
    if let Some(err) = &e.error {
        line += &format!(" err={err}");
    }
    if let Some(by) = e.receipt_by {
        line += &format!(" receipt due {}", time(by));
    }
    if let Some(from) = &e.from {
        line += &format!(" from {}", number(from));
    }
    if let Some(text) = &e.text {
        line += &format!(" {text:?}");
    }
    if let Some(id) = e.follow_up_id {
        line += &format!(" follow-up {id}");
    }
    if let Some(r) = &e.reason {
        line += &format!(" ({r})");
    }
    line
}

fn type_name(kind: EventType) -> &'static str {
    match kind {
        EventType::StateChanged => "state_changed",
        EventType::Receipt => "receipt",
        EventType::ReceiptOverdue => "receipt_overdue",
        EventType::Reply => "reply",
        EventType::ReplyWindowClosed => "reply_window_closed",
        EventType::Other => "other",
    }
}
