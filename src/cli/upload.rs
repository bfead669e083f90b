//! `khabar send --file`: uploads an NDJSON file in `submit_batch`es with a progress bar, then
//! summarises accepted / duplicate / rejected lines with the reasons.

use super::{CliError, CliResult, Exit};
use crate::api::protocol::BatchAnswer;
use crate::api::{ApiError, Client, ClientError, ErrorCode};
use indicatif::{ProgressBar, ProgressState, ProgressStyle};
use serde_json::Value;
use std::path::Path;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// Most bytes of messages per batch, well under the server's default 1 MiB line cap.
const MAX_BATCH_BYTES: usize = 512 * 1024;

/// Rejected lines listed in the summary.
const LISTED: usize = 20;

/// Tallies of an upload.
#[derive(Debug, Default)]
struct Summary {
    accepted: u64,
    duplicates: u64,
    rejected: Vec<(u64, ApiError)>,
}

impl Summary {
    fn record(&mut self, line: u64, result: Result<bool, ApiError>) {
        match result {
            Ok(true) => self.duplicates += 1,
            Ok(false) => self.accepted += 1,
            Err(e) => self.rejected.push((line, e)),
        }
    }

    fn print(&mut self) {
        // lines refused here and lines the daemon refused arrive out of order
        self.rejected.sort_by_key(|(line, _)| *line);
        println!("accepted:  {}", self.accepted);
        println!("duplicate: {}", self.duplicates);
        println!("rejected:  {}", self.rejected.len());
        for (line, e) in self.rejected.iter().take(LISTED) {
            println!("  line {line}: {}: {}", e.code, e.message);
        }
        if self.rejected.len() > LISTED {
            println!("  … and {} more", self.rejected.len() - LISTED);
        }
    }
}

/// A batch being filled: the messages and the file line each came from.
#[derive(Default)]
struct Batch {
    messages: Vec<Value>,
    lines: Vec<u64>,
    bytes: usize,
}

/// Uploads `path` ('-' = stdin) in batches of up to `batch_size` messages.
pub(crate) async fn run(socket: &Path, path: &Path, batch_size: usize) -> CliResult {
    let (input, total): (Box<dyn AsyncRead + Unpin + Send>, Option<u64>) = if path == Path::new("-")
    {
        (Box::new(tokio::io::stdin()), None)
    } else {
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|e| CliError::Usage(format!("cannot open {}: {e}", path.display())))?;
        (Box::new(file), count_lines(path).await)
    };
    let mut client = Client::connect(socket).await?;
    let progress = match total {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::new_spinner(),
    };
    progress.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} lines  {rate}  eta {eta}")
            .map(|style| {
                style.with_key(
                    "rate",
                    |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = write!(w, "{:.0} lines/s", state.per_sec());
                    },
                )
            })
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut summary = Summary::default();
    let mut batch = Batch::default();
    let mut input = BufReader::new(input);
    let mut buf = Vec::new();
    let mut number = 0u64;
    let outcome: Result<(), Stop> = async {
        loop {
            buf.clear();
            if input
                .read_until(b'\n', &mut buf)
                .await
                .map_err(Stop::Input)?
                == 0
            {
                break;
            }
            number += 1;
            if buf.trim_ascii().is_empty() {
                progress.inc(1);
                continue;
            }
            match message_of(&buf) {
                Ok(message) => {
                    batch.bytes += buf.len();
                    batch.messages.push(message);
                    batch.lines.push(number);
                }
                Err(e) => {
                    summary.record(number, Err(e));
                    progress.inc(1);
                }
            }
            if batch.messages.len() >= batch_size || batch.bytes >= MAX_BATCH_BYTES {
                let full = std::mem::take(&mut batch);
                send(&mut client, full, &mut summary, &progress)
                    .await
                    .map_err(Stop::Client)?;
            }
        }
        send(&mut client, batch, &mut summary, &progress)
            .await
            .map_err(Stop::Client)
    }
    .await;
    progress.finish_and_clear();
    summary.print();
    match outcome {
        Ok(()) if summary.rejected.is_empty() => Ok(Exit::Ok),
        Ok(()) => Ok(Exit::Refused),
        Err(Stop::Input(e)) => Err(CliError::Usage(format!(
            "reading {} stopped at line {number}: {e}",
            path.display()
        ))),
        Err(Stop::Client(e)) => {
            eprintln!(
                "khabar: stopped at line {number}; lines not counted above were not confirmed. \
                 Re-sending is safe for lines that carry a `reference`."
            );
            Err(e.into())
        }
    }
}

/// Why an upload stopped early.
enum Stop {
    /// Reading the input failed.
    Input(std::io::Error),
    /// The daemon went away.
    Client(ClientError),
}

/// Sends one batch and records each line's result.
async fn send(
    client: &mut Client,
    batch: Batch,
    summary: &mut Summary,
    progress: &ProgressBar,
) -> Result<(), ClientError> {
    if batch.messages.is_empty() {
        return Ok(());
    }
    let count = batch.lines.len() as u64;
    match client.submit_batch(batch.messages).await? {
        Ok(BatchAnswer { results, .. }) => {
            for (line, item) in batch.lines.iter().zip(results) {
                summary.record(*line, item.into_result().map(|ok| ok.duplicate));
            }
        }
        Err(e) => {
            for line in &batch.lines {
                summary.record(*line, Err(e.clone()));
            }
        }
    }
    progress.inc(count);
    Ok(())
}

/// One file line as a `submit_batch` item; `op` and `id` (if someone left them in) are
/// dropped since batch items have neither.
fn message_of(line: &[u8]) -> Result<Value, ApiError> {
    let mut value: Value = serde_json::from_slice(line).map_err(|e| {
        ApiError::new(
            ErrorCode::InvalidJson,
            format!("the line is not valid JSON: {e}"),
        )
    })?;
    let Value::Object(map) = &mut value else {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            "each line must be a JSON object such as {\"to\":\"+77011234567\",\"text\":\"…\"}",
        ));
    };
    map.remove("op");
    map.remove("id");
    Ok(value)
}

/// Lines in a regular file, for the progress bar's length (None if it cannot be read).
async fn count_lines(path: &Path) -> Option<u64> {
    let file = tokio::fs::File::open(path).await.ok()?;
    if !file.metadata().await.ok()?.is_file() {
        return None;
    }
    let mut input = BufReader::new(file);
    let mut buf = Vec::new();
    let mut n = 0;
    while input.read_until(b'\n', &mut buf).await.ok()? > 0 {
        n += 1;
        buf.clear();
    }
    Some(n)
}
