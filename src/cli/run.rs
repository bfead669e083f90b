//! `khabar run`: the daemon itself.

use super::{CliError, CliResult, Exit};
use clap::Args;
use std::path::Path;

const AFTER_HELP: &str = "\
Runs everything: the durable store, the scheduler, SMPP sessions to the operators, receipts
and the local socket. Stops cleanly on SIGTERM or Ctrl-C. The config file is --config, else
KHABAR_CONFIG, else ./config.toml.

Examples:
  khabar run
  khabar run --config /etc/khabar/config.toml";

/// Arguments of `khabar run` (the config path is the global `--config`).
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub(crate) struct RunArgs {}

/// Runs the daemon until it stops.
pub(crate) async fn run(config: &Path, _args: &RunArgs) -> CliResult {
    crate::daemon::run(config)
        .await
        .map_err(|e| CliError::Failed(format!("the daemon stopped: {e}")))?;
    Ok(Exit::Ok)
}
