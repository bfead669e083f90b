//! `khabar cancel`: stop a message that was not yet handed to an operator.

use super::show::message_ref;
use super::{CliError, CliResult, Exit};
use crate::api::Client;
use crate::message::MessageId;
use clap::Args;

const AFTER_HELP: &str = "\
Only a message still waiting in its queue can be cancelled; once an operator has it, the
daemon refuses (exit code 1, reason not_cancellable).

Examples:
  khabar cancel 0190f3a2b4c5d6e7
  khabar cancel --ref crm-42";

/// Arguments of `khabar cancel`.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub(crate) struct CancelArgs {
    /// The message id (16 hex digits).
    #[arg(required_unless_present = "reference", conflicts_with = "reference")]
    id: Option<MessageId>,
    /// Find the message by your reference instead.
    #[arg(long = "ref", value_name = "REF")]
    reference: Option<String>,
}

/// Runs `khabar cancel`.
pub(crate) async fn run(mut client: Client, args: CancelArgs) -> CliResult {
    let target = message_ref(args.id, args.reference);
    let message = client.cancel(&target).await?.map_err(CliError::Refused)?;
    println!("{} {}", message.id, message.state);
    Ok(Exit::Ok)
}
