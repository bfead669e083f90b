//! `khabar send`: one message from flags, or a file of messages (see `upload`).

use super::{CliError, CliResult, Exit, upload};
use crate::api::Client;
use clap::Args;
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};

const AFTER_HELP: &str = "\
Prints the new message's id once the daemon has it on disk. A second send with the same
--ref prints the first message's id (and says it was a duplicate) instead of sending again.

Examples:
  khabar send --to +77011234567 --text 'Өтінішіңіз қабылданды. Құжат № 123-456.'
  khabar send --to 87011234567 --kind request --text 'Ответьте 1 или 2' --reply-window 24h \\
      --follow-up-text 'Срок ответа истёк, заявка отменена.'
  khabar send --to 77011234567 --template housing_queue --field reason='...' --language kk
  khabar send --to 77011234567 --text 'Төлем түсті' --deadline '1 working day' --ref crm-42
  khabar send --file batch.ndjson --batch 500

A --file holds one message per line, as JSON objects of the socket's `submit`:
  {\"to\":\"+77011234567\",\"text\":\"...\",\"kind\":\"notification\",\"reference\":\"crm-1\"}";

/// Arguments of `khabar send`.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub(crate) struct SendArgs {
    /// Recipient: +77011234567, 77011234567 or 87011234567.
    #[arg(long, required_unless_present = "file", conflicts_with = "file")]
    to: Option<String>,
    /// The text to send.
    #[arg(long, required_unless_present_any = ["file", "template"], conflicts_with = "template")]
    text: Option<String>,
    /// What the message is for; decides its priority lane.
    #[arg(long, value_parser = ["otp", "request", "notification", "bulk"], default_value = "notification")]
    kind: String,
    /// Your idempotency key: the same --ref is never sent twice.
    #[arg(long = "ref", value_name = "REF")]
    reference: Option<String>,
    /// Sender name or short code (default: the operator's).
    #[arg(long)]
    sender: Option<String>,
    /// Do not send after this time (RFC 3339, e.g. 2026-11-23T18:00:00+05:00).
    #[arg(long, conflicts_with = "deadline")]
    send_by: Option<String>,
    /// Deadline in words, e.g. "1 working day", "next working day 18:00".
    #[arg(long)]
    deadline: Option<String>,
    /// Raise receipt_overdue if no final receipt by this time (RFC 3339).
    #[arg(long)]
    receipt_by: Option<String>,
    /// Render a named template instead of --text.
    #[arg(long)]
    template: Option<String>,
    /// A template field, KEY=VALUE (repeat for more).
    #[arg(long = "field", value_name = "KEY=VALUE", requires = "template")]
    fields: Vec<String>,
    /// Template language.
    #[arg(long, value_parser = ["kk", "ru"], requires = "template")]
    language: Option<String>,
    /// For --kind request: how long to wait for a reply (e.g. 24h).
    #[arg(long)]
    reply_window: Option<String>,
    /// For --kind request: the notification sent when the window closes unanswered.
    #[arg(long)]
    follow_up_text: Option<String>,
    /// Upload messages from an NDJSON file ('-' = standard input).
    #[arg(long, value_name = "PATH")]
    file: Option<PathBuf>,
    /// Messages per batch when uploading a file.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    batch: u32,
}

/// Runs `khabar send`.
pub(crate) async fn run(socket: &Path, args: SendArgs) -> CliResult {
    if let Some(path) = &args.file {
        return upload::run(socket, path, args.batch as usize).await;
    }
    let message = message_of(&args)?;
    let mut client = Client::connect(socket).await?;
    let sent = client.submit(message).await?.map_err(CliError::Refused)?;
    println!("{}", sent.message_id);
    if sent.duplicate {
        eprintln!(
            "khabar: duplicate: a message with this reference was already accepted; that is its id"
        );
    }
    Ok(Exit::Ok)
}

/// The `submit` object for the flags.
fn message_of(args: &SendArgs) -> Result<Value, CliError> {
    let mut m = Map::new();
    let mut put = |key: &str, value: &Option<String>| {
        if let Some(v) = value {
            m.insert(key.into(), json!(v));
        }
    };
    put("to", &args.to);
    put("text", &args.text);
    put("reference", &args.reference);
    put("sender", &args.sender);
    put("send_by", &args.send_by);
    put("deadline", &args.deadline);
    put("receipt_by", &args.receipt_by);
    put("template", &args.template);
    put("language", &args.language);
    put("reply_window", &args.reply_window);
    put("follow_up_text", &args.follow_up_text);
    m.insert("kind".into(), json!(args.kind));
    if args.template.is_some() {
        let mut fields = Map::new();
        for pair in &args.fields {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| CliError::Usage(format!("--field {pair:?} is not KEY=VALUE")))?;
            fields.insert(key.trim().into(), json!(value));
        }
        m.insert("fields".into(), Value::Object(fields));
    }
    Ok(Value::Object(m))
}
