//! `khabar status`: the operator-on-duty view, as a table, JSON, or refreshed in place.

use super::{CliError, CliResult, Exit, status_view};
use crate::api::Client;
use clap::Args;
use std::path::Path;
use std::time::Duration;

const AFTER_HELP: &str = "\
Shows daemon uptime and version; per operator the binds (up/down and since when), window in
use, TPS now against the cap, throttling and the last error; queue depth by lane and state
with the age of the oldest queued message; receipts overdue; messages at risk of missing
their deadline; and what was delivered / undeliverable / expired in the last minute and hour.
In cluster mode also the cluster: the database (primary or standby), each node up or gone, and
which node holds each operator's binds. Times are Asia/Almaty.

Examples:
  khabar status
  khabar status --watch          # refresh every 2 s until Ctrl-C
  khabar status --watch 10
  khabar status --json | jq '.operators[] | {name, tps_now}'";

/// Arguments of `khabar status`.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub(crate) struct StatusArgs {
    /// Print the report as JSON (the socket's `status` payload).
    #[arg(long)]
    json: bool,
    /// Refresh every SECS seconds (default 2) until interrupted.
    #[arg(long, value_name = "SECS", num_args = 0..=1, default_missing_value = "2",
          value_parser = clap::value_parser!(u64).range(1..))]
    watch: Option<u64>,
}

/// Runs `khabar status`.
pub(crate) async fn run(socket: &Path, args: StatusArgs) -> CliResult {
    let Some(every) = args.watch else {
        let mut client = Client::connect(socket).await?;
        print!("{}", render(&mut client, args.json).await?);
        return Ok(Exit::Ok);
    };
    let mut client: Option<Client> = None;
    let mut ticks = tokio::time::interval(Duration::from_secs(every));
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(Exit::Ok),
            _ = ticks.tick() => {}
        }
        // Reconnect after a daemon restart instead of giving up: a watch runs for hours.
        let screen = match client.as_mut() {
            Some(c) => render(c, args.json).await,
            None => match Client::connect(socket).await {
                Ok(c) => render(client.insert(c), args.json).await,
                Err(e) => Err(e.into()),
            },
        };
        let screen = screen.unwrap_or_else(|e| {
            client = None;
            format!("khabar: {e}\n(retrying every {every} s)\n")
        });
        // Clear the screen and home the cursor (ANSI), then draw.
        print!("\x1b[2J\x1b[H{screen}");
    }
}

/// One report, as text or JSON.
async fn render(client: &mut Client, json: bool) -> Result<String, CliError> {
    if json {
        // The daemon's payload as sent, so fields newer than this CLI are kept.
        let reply = client.request(serde_json::json!({"op": "status"})).await?;
        let mut payload = reply.result.map_err(CliError::Refused)?;
        let report = payload.remove("status").unwrap_or_default();
        let text = serde_json::to_string_pretty(&report).unwrap_or_default();
        Ok(text + "\n")
    } else {
        let report = client.status().await?.map_err(CliError::Refused)?;
        Ok(status_view::render(&report))
    }
}
