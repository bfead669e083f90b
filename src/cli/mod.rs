//! The `khabar` command line: one binary that runs the daemon and talks to it.
//!
//! Every subcommand but `run` is a client of the local socket. Exit codes: 0 ok, 1 the
//! request was refused (the reason is printed), 2 usage error, 3 daemon not reachable.

mod calendar;
mod cancel;
mod display;
mod events;
mod otp;
mod run;
mod send;
mod show;
mod sim;
mod socket;
mod status;
mod status_view;
mod templates;
mod upload;

use crate::api::{ApiError, Client, ClientError};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// How a command ended; the process exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Done.
    Ok = 0,
    /// The daemon refused the request (reason printed).
    Refused = 1,
    /// The command line (or a file it names) was wrong.
    Usage = 2,
    /// The daemon could not be reached.
    Unreachable = 3,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}

/// A failure that ends a command, with its exit code.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// The daemon answered with an error.
    #[error("refused: {0}")]
    Refused(ApiError),
    /// Talking to the daemon failed.
    #[error("{0}")]
    Client(#[from] ClientError),
    /// Bad arguments or an unreadable input file.
    #[error("{0}")]
    Usage(String),
    /// The command could not do its work (e.g. the daemon stopped with an error).
    #[error("{0}")]
    Failed(String),
}

impl CliError {
    fn exit(&self) -> Exit {
        match self {
            CliError::Refused(_) | CliError::Failed(_) => Exit::Refused,
            CliError::Usage(_) => Exit::Usage,
            CliError::Client(ClientError::Refused(_) | ClientError::Protocol(_)) => Exit::Refused,
            CliError::Client(_) => Exit::Unreachable,
        }
    }
}

/// What a command returns.
pub(crate) type CliResult = Result<Exit, CliError>;

const ABOUT: &str = "khabar — SMS gateway for Kazakhstan's e-government systems";

const AFTER_HELP: &str = "\
Examples:
  khabar run --config config.toml
  khabar send --to +77011234567 --text 'Сәлеметсіз бе! Өтінішіңіз қабылданды.'
  khabar status --watch
  khabar show 0190f3a2b4c5d6e7

The socket is found from --socket, else KHABAR_SOCKET, else `[api] socket_path` in the
config file (--config, KHABAR_CONFIG, ./config.toml), else data/khabar.sock next to it.
Exit codes: 0 ok, 1 refused (reason printed), 2 usage error, 3 daemon not reachable.";

/// The command line.
#[derive(Debug, Parser)]
#[command(name = "khabar", version, about = ABOUT, after_help = AFTER_HELP)]
struct Cli {
    /// The daemon's config file (also used to find the socket).
    #[arg(
        long,
        global = true,
        env = "KHABAR_CONFIG",
        default_value = "config.toml"
    )]
    config: PathBuf,
    /// The daemon's socket (default: from the config file).
    #[arg(long, global = true, env = "KHABAR_SOCKET")]
    socket: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway: store, scheduler, SMPP sessions and the socket.
    Run(run::RunArgs),
    /// Send one message, or upload a file of messages.
    Send(Box<send::SendArgs>),
    /// Show what an operator on duty needs: binds, rates, queues, deadlines.
    Status(status::StatusArgs),
    /// Tell one message's story: every state with its time and reason.
    Show(show::ShowArgs),
    /// Tail the event stream (receipts, final states, replies, deadlines).
    Events(events::EventsArgs),
    /// Cancel a message that was not yet handed to an operator.
    Cancel(cancel::CancelArgs),
    /// Send or verify one-time passwords.
    #[command(subcommand, after_help = otp::AFTER_HELP)]
    Otp(otp::OtpCommand),
    /// Print the working days and days off deadlines are counted by, with their sources.
    Calendar(calendar::CalendarArgs),
    /// List the message templates a submit may name, with their fields and texts.
    Templates(templates::TemplatesArgs),
    /// Control the embedded SMSC simulator: counters, received messages, replies, faults.
    #[command(after_help = sim::AFTER_HELP)]
    Sim(sim::SimArgs),
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("khabar: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(execute(cli));
    match outcome {
        Ok(exit) => exit.into(),
        Err(e) => {
            eprintln!("khabar: {e}");
            if let CliError::Client(ClientError::Unreachable { .. }) = e {
                eprintln!(
                    "khabar: is `khabar run` running? Set --socket or KHABAR_SOCKET to point at its socket."
                );
            }
            e.exit().into()
        }
    }
}

async fn execute(cli: Cli) -> CliResult {
    let cli = match cli.command {
        Command::Run(args) => return run::run(&cli.config, &args).await,
        Command::Sim(args) => return sim::run(&cli.config, args).await,
        Command::Calendar(args) => return calendar::run(&cli.config, args),
        Command::Templates(args) => return templates::run(&cli.config, args),
        command => Cli { command, ..cli },
    };
    let socket = socket::resolve(cli.socket.as_deref(), &cli.config)?;
    let connect = || Client::connect(&socket);
    match cli.command {
        Command::Run(_) | Command::Sim(_) | Command::Calendar(_) | Command::Templates(_) => {
            Ok(Exit::Ok)
        }
        Command::Send(args) => send::run(&socket, *args).await,
        Command::Status(args) => status::run(&socket, args).await,
        Command::Show(args) => show::run(connect().await?, args).await,
        Command::Events(args) => events::run(connect().await?, args).await,
        Command::Cancel(args) => cancel::run(connect().await?, args).await,
        Command::Otp(cmd) => otp::run(connect().await?, cmd).await,
    }
}
