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
state it went through with time and reason, each SMS part with its operator message id and
receipt, a receipt that is overdue, and the replies matched to it. Times are Asia/Almaty.

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
    let receipt_by = match m.receipt_overdue_at {
        Some(at) => format!(
            "{}  (OVERDUE: no final receipt, noticed {})",
            time_or_dash(m.receipt_by),
            time(at)
        ),
        None => time_or_dash(m.receipt_by),
    };
    field("receipt by", receipt_by);
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
    if !m.replies.is_empty() {
        out.push_str("\nreplies\n");
        for r in &m.replies {
            let class = serde_json::to_value(r.class).unwrap_or_default();
            let text = r
                .text
                .as_deref()
                .map_or("(erased)".to_owned(), |t| format!("{t:?}"));
            let _ = writeln!(
                out,
                "  {}  {:<8} {text}",
                time_ms(r.at),
                class.as_str().unwrap_or("")
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::views::ReplyView;
    use crate::message::{Message, ReplySeen, State, Transition};
    use crate::replies::ReplyClass;

    /// A request that was sent, answered twice, and whose receipt never came.
    fn answered_request() -> MessageView {
        let created = 1_700_000_000_000;
        let mut m = Message {
            id: MessageId(7),
            reference: Some("offer-1".into()),
            kind: Kind::Request,
            recipient: "77011234567".into(),
            sender: None,
            text: Some("Келісесіз бе?".into()),
            created,
            send_by: None,
            receipt_by: Some(created + 300_000),
            attempts: 1,
            next_try: created,
            state: State::Submitted,
            operator: Some("kcell".into()),
            parts: Vec::new(),
            history: vec![Transition {
                state: State::Submitted,
                at: created + 1_000,
                reason: None,
            }],
            extra: Default::default(),
            concat_ref: None,
        };
        m.extra.receipt_overdue_at = Some(1_700_000_300_500);
        m.extra.replies = vec![
            ReplySeen {
                at: 1_700_000_010_000,
                class: ReplyClass::Accept,
                text: Some("Иә".into()),
            },
            ReplySeen {
                at: 1_700_000_020_000,
                class: ReplyClass::Other,
                text: None,
            },
        ];
        MessageView::from(&m)
    }

    #[test]
    fn the_story_tells_replies_and_an_overdue_receipt() {
        let view = answered_request();
        assert_eq!(
            view.replies[0],
            ReplyView {
                at: 1_700_000_010_000,
                class: ReplyClass::Accept,
                text: Some("Иә".into())
            }
        );
        let story = render(&view);
        let replies = story
            .split("\nreplies\n")
            .nth(1)
            .expect("a replies section");
        let lines: Vec<&str> = replies.lines().collect();
        assert_eq!(lines.len(), 2, "{story}");
        assert!(lines[0].ends_with("accept   \"Иә\""), "{story}");
        assert!(lines[1].ends_with("other    (erased)"), "{story}");
        let receipt_by = story.lines().find(|l| l.starts_with("receipt by")).unwrap();
        assert!(
            receipt_by.contains("OVERDUE: no final receipt, noticed"),
            "{story}"
        );
    }
}
