//! `smpp-sim-bench`: how many submit_sm per second one bind gets answered, and how fast the
//! receipts come back, with a fixed number of submits outstanding.
//!
//! The simulator runs on this process's multi-threaded runtime; the load generator runs on
//! its own single thread, sends a pre-encoded submit_sm with patched sequence numbers (so the
//! measurement is the simulator, not the client's encoder) and acknowledges every receipt.
//!
//! ```text
//! cargo run --release -p smpp-sim --bin smpp-sim-bench -- --submits 500000 --window 100
//! ```

mod load;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use smpp_sim::{ReceiptConfig, SimConfig, Simulator};

/// Measures submit_sm/s and receipts/s against an in-process smpp-sim over loopback TCP.
#[derive(Debug, Parser, Clone)]
#[command(name = "smpp-sim-bench")]
pub struct Args {
    /// How many submit_sm to send (the run stops after them).
    #[arg(long, default_value_t = 200_000)]
    pub submits: u64,
    /// How many submit_sm may be outstanding (sent, not yet answered).
    #[arg(long, default_value_t = 100)]
    pub window: u64,
    /// Receipt delay in milliseconds, `MIN-MAX`.
    #[arg(long, default_value = "0-50")]
    pub receipt_delay: String,
    /// Do not ask for receipts (registered_delivery 0).
    #[arg(long)]
    pub no_receipts: bool,
    /// Send the Kazakh UCS-2 text instead of a GSM 7-bit one.
    #[arg(long)]
    pub ucs2: bool,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 300)]
    pub timeout_secs: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("smpp-sim-bench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("smpp-sim-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let (min, max) = args
        .receipt_delay
        .split_once('-')
        .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
        .ok_or("--receipt-delay must be MIN-MAX milliseconds")?;
    let mut config = SimConfig::single("bench");
    config.receipts = ReceiptConfig {
        min_delay_ms: min,
        max_delay_ms: max,
        ..ReceiptConfig::default()
    };
    let sim = Simulator::start(config).await.map_err(|e| e.to_string())?;
    let addr = sim.addr("bench").map_err(|e| e.to_string())?;
    let load_args = args.clone();
    let load = std::thread::spawn(move || load::run(addr, &load_args));
    let outcome = tokio::task::spawn_blocking(move || load.join())
        .await
        .map_err(|e| e.to_string())?
        .map_err(|_| "the load generator panicked".to_string())??;
    let stats = sim.operator_stats("bench").map_err(|e| e.to_string())?;
    sim.shutdown().await;

    let rate = |n: u64, d: Duration| n as f64 / d.as_secs_f64().max(1e-9);
    println!(
        "submits:  {} answered in {:.2} s = {:.0} submit_sm/s (window {}, {} refused)",
        outcome.answered,
        outcome.submits_done.as_secs_f64(),
        rate(outcome.answered, outcome.submits_done),
        args.window,
        outcome.refused,
    );
    if !args.no_receipts {
        println!(
            "receipts: {} received in {:.2} s = {:.0} receipts/s (delay {} ms)",
            outcome.receipts,
            outcome.receipts_done.as_secs_f64(),
            rate(outcome.receipts, outcome.receipts_done),
            args.receipt_delay,
        );
    }
    println!(
        "simulator: parts {} messages {} receipts acked {} busiest second {} submit_sm",
        stats.parts, stats.messages, stats.receipts_acked, stats.max_parts_per_second
    );
    if outcome.answered != args.submits {
        return Err(format!(
            "only {} of {} submits answered",
            outcome.answered, args.submits
        ));
    }
    Ok(())
}
