//! `khabar sim …`: the embedded simulator's control requests (`smpp-sim ctl`'s, without a
//! second binary): its counters, the messages it received, a subscriber's reply, faults.
//! It talks to `smpp-sim.sock` in the config's data directory, where the daemon puts the
//! embedded simulator's control socket.

use super::{CliError, CliResult, Exit, socket};
use clap::Args;
use std::path::{Path, PathBuf};

/// Examples for `khabar sim --help`.
pub(crate) const AFTER_HELP: &str = "\
Examples (against the daemon's embedded simulator):
  khabar sim stats
  khabar sim messages --last 5
  khabar sim inject-mo --operator kcell --from 77011234567 --to 1414 --text 'Иә'
  khabar sim fault kcell throttle 0.1
  khabar sim fault kcell clear";

/// `khabar sim` options.
#[derive(Debug, Args)]
pub(crate) struct SimArgs {
    /// The simulator's control socket (default: smpp-sim.sock in the config's data_dir).
    #[arg(long, value_name = "PATH")]
    control: Option<PathBuf>,
    /// The request.
    #[command(subcommand)]
    request: smpp_sim::ctl::CtlRequest,
}

/// Sends the request and prints the answer.
pub(crate) async fn run(config: &Path, args: SimArgs) -> CliResult {
    let path = match args.control {
        Some(path) => path,
        None => socket::data_dir(config)?.join("smpp-sim.sock"),
    };
    smpp_sim::ctl::run(&path, args.request)
        .await
        .map(|()| Exit::Ok)
        .map_err(|e| {
            CliError::Failed(format!(
                "{e} (the embedded simulator runs inside `khabar run` while an operator has host = \"embedded\")"
            ))
        })
}
