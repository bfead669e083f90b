//! The `smpp-sim` binary: runs the simulated operators, or controls a running simulator.

mod cli;
mod ctl;

use std::process::ExitCode;

use clap::Parser;
use smpp_sim::control::{ControlServer, default_socket_path};
use smpp_sim::{SimError, Simulator};
use tracing::warn;

use cli::{Cli, Command, RunArgs};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Ctl(args)) => ctl::run(args).await,
        Some(Command::PrintConfig(args)) => print_config(&args),
        None => run(cli.run).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("smpp-sim: {e}");
            ExitCode::FAILURE
        }
    }
}

fn print_config(args: &RunArgs) -> Result<(), SimError> {
    let config = args.load()?;
    let text = toml::to_string(&config).map_err(|e| SimError::Config(e.to_string()))?;
    print!("{text}");
    Ok(())
}

async fn run(args: RunArgs) -> Result<(), SimError> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let config = args.load()?;
    let control_path = config
        .control_socket
        .clone()
        .unwrap_or_else(default_socket_path);
    let sim = Simulator::start(config).await?;
    for op in sim.operators() {
        let tls = if op.tls { " over TLS" } else { "" };
        println!(
            "{:<10} listening on {}{tls} (system_id {})",
            op.name, op.addr, op.system_id
        );
    }
    let control = if args.no_control {
        None
    } else {
        match ControlServer::start(sim.clone(), &control_path).await {
            Ok(server) => {
                println!("control socket {}", server.path().display());
                Some(server)
            }
            Err(e) => {
                warn!(error = %e, "running without a control socket");
                None
            }
        }
    };
    wait_for_termination().await;
    print!("{}", sim.stats_report());
    drop(control);
    sim.shutdown().await;
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C (SIGINT).
async fn wait_for_termination() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
