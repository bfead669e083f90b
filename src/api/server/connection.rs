//! One client connection: reads request lines, handles up to `max_pipeline` of them at once,
//! writes replies in request order, and streams events once subscribed.
//!
//! Memory per connection is bounded: the line cap bounds the read buffer, `max_pipeline`
//! bounds replies in flight (the connection stops reading when it is reached), and a reply
//! the client does not read within `write_timeout` closes the connection.

use super::Shared;
use super::codec::{Frame, RequestCodec};
use super::dispatch::{Outgoing, dispatch, ready_error};
use super::subscription::event_stream;
use crate::api::backend::Backend;
use crate::api::error::{ApiError, ErrorCode};
use crate::api::protocol::{EventLine, Request, error_line, parse_line};
use crate::api::views::EventView;
use futures::future::BoxFuture;
use futures::stream::{BoxStream, FuturesOrdered};
use futures::{FutureExt, StreamExt};
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncWriteExt, BufWriter};
use tokio::net::UnixStream;
use tokio::net::unix::OwnedWriteHalf;
use tokio::time::Instant;
use tokio_util::codec::FramedRead;
use tracing::debug;

/// Read buffer size; lines longer than this grow it, up to the line cap.
const READ_CHUNK: usize = 64 * 1024;

/// The most often a connection looks for a request line that is too slow.
const MIN_LINE_CHECK: Duration = Duration::from_millis(50);

type Events = BoxStream<'static, Result<EventView, ApiError>>;

/// Serves one connection until the client leaves, idles out, stops reading, or shutdown.
pub(crate) async fn run<B: Backend>(stream: UnixStream, shared: Arc<Shared<B>>) {
    let config = &shared.config;
    let (read, write) = stream.into_split();
    let mut frames =
        FramedRead::with_capacity(read, RequestCodec::new(config.max_line_bytes), READ_CHUNK);
    let mut out = Writer {
        inner: BufWriter::new(write),
        timeout: config.write_timeout,
    };
    let mut pending: FuturesOrdered<BoxFuture<'static, Outgoing>> = FuturesOrdered::new();
    let mut events: Option<Events> = None;
    let mut subscribed = false;
    let mut reading = true;
    let mut farewell: Option<ApiError> = None;
    let idle = tokio::time::sleep(config.idle_timeout);
    tokio::pin!(idle);
    // the first byte of a line arrives at no event of ours: look at the read buffer often
    let mut line_check = tokio::time::interval((config.line_timeout / 4).max(MIN_LINE_CHECK));
    line_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut partial_since: Option<Instant> = None;

    let outcome: io::Result<()> = async {
        loop {
            tokio::select! {
                biased;
                () = shared.shutdown.cancelled(), if reading || events.is_some() => {
                    reading = false;
                    events = None;
                    farewell = Some(ApiError::new(
                        ErrorCode::ShuttingDown,
                        "the daemon is shutting down; reconnect when it is back",
                    ));
                }
                Some(outgoing) = pending.next(), if !pending.is_empty() => {
                    let mut next = Some(outgoing);
                    // Write every reply that is already done, then flush once.
                    while let Some(outgoing) = next.take() {
                        match outgoing {
                            Outgoing::Line(line) => out.write(&line).await?,
                            Outgoing::SubscribeFailed(line) => {
                                out.write(&line).await?;
                                subscribed = false;
                            }
                            Outgoing::Subscribe { line, after } => {
                                out.write(&line).await?;
                                let page = config.event_page;
                                events = Some(event_stream(Arc::clone(&shared.backend), after, page));
                            }
                        }
                        next = pending.next().now_or_never().flatten();
                    }
                    out.flush().await?;
                    idle.as_mut().reset(Instant::now() + config.idle_timeout);
                }
                event = next_event(&mut events), if events.is_some() => {
                    if event.is_none() {
                        // The backend stopped announcing events: it is shutting down.
                        events = None;
                    }
                    let mut next = event;
                    while let Some(item) = next.take() {
                        match item {
                            Ok(event) => out.write(&event_line(event)).await?,
                            Err(e) => {
                                out.write(&error_line(None, &e)).await?;
                                events = None;
                                break;
                            }
                        }
                        next = events.as_mut().and_then(|s| s.next().now_or_never().flatten());
                    }
                    out.flush().await?;
                }
                // (not while the pipeline is full: then it is we who are not reading)
                _ = line_check.tick(), if reading => {
                    if frames.read_buffer().is_empty() || pending.len() >= config.max_pipeline {
                        partial_since = None;
                    } else if partial_since.get_or_insert_with(Instant::now).elapsed()
                        >= config.line_timeout
                    {
                        reading = false;
                        farewell = Some(ApiError::new(
                            ErrorCode::SlowRequest,
                            format!(
                                "a request line did not arrive whole within {}; closing the connection",
                                humantime::format_duration(config.line_timeout)
                            ),
                        ));
                    }
                }
                frame = frames.next(), if reading && pending.len() < config.max_pipeline => {
                    idle.as_mut().reset(Instant::now() + config.idle_timeout);
                    partial_since = None;
                    match frame {
                        Some(Ok(frame)) => {
                            if let Some(reply) = handle(&shared, frame, &mut subscribed) {
                                pending.push_back(reply);
                            }
                        }
                        // End of input, or a read error: finish what was read.
                        None | Some(Err(_)) => reading = false,
                    }
                }
                () = &mut idle, if reading && pending.is_empty() && events.is_none() => {
                    reading = false;
                    farewell = Some(ApiError::new(
                        ErrorCode::IdleTimeout,
                        format!(
                            "nothing was received for {}; closing the connection",
                            humantime::format_duration(config.idle_timeout)
                        ),
                    ));
                }
                else => break,
            }
        }
        if let Some(e) = farewell.take() {
            out.write(&error_line(None, &e)).await?;
            out.flush().await?;
        }
        Ok(())
    }
    .await;
    match outcome {
        // Close our side so the client sees the end of the stream (bounded: shutting down
        // flushes first).
        Ok(()) => {
            let _ = tokio::time::timeout(out.timeout, out.inner.shutdown()).await;
        }
        // A failed or timed-out write: drop the connection with whatever is unsent.
        Err(e) => debug!(error = %e, "connection dropped"),
    }
}

/// The future of the reply to one frame; None for a blank line.
fn handle<B: Backend>(
    shared: &Arc<Shared<B>>,
    frame: Frame,
    subscribed: &mut bool,
) -> Option<BoxFuture<'static, Outgoing>> {
    let line = match frame {
        Frame::Line(line) if line.trim().is_empty() => return None,
        Frame::Line(line) => line,
        Frame::TooLong => {
            let why = format!(
                "the line is longer than {} bytes and was discarded; split large batches",
                shared.config.max_line_bytes
            );
            return Some(ready_error(
                None,
                ApiError::new(ErrorCode::LineTooLong, why),
            ));
        }
        Frame::NotUtf8 => {
            let why = "the line is not valid UTF-8, so it cannot be JSON";
            return Some(ready_error(
                None,
                ApiError::new(ErrorCode::InvalidJson, why),
            ));
        }
    };
    let parsed = parse_line(line.as_bytes());
    if matches!(parsed.request, Ok(Request::Subscribe(_))) && std::mem::replace(subscribed, true) {
        let why = "this connection is already subscribed; open another to subscribe again";
        let error = ApiError::new(ErrorCode::InvalidRequest, why);
        return Some(ready_error(parsed.id.as_ref(), error));
    }
    Some(dispatch(shared, parsed))
}

/// The next event of an active subscription (never resolves without one).
async fn next_event(events: &mut Option<Events>) -> Option<Result<EventView, ApiError>> {
    match events {
        Some(stream) => stream.next().await,
        None => std::future::pending().await,
    }
}

/// `{"event":{…}}` with its newline.
fn event_line(event: EventView) -> Vec<u8> {
    let mut line = serde_json::to_vec(&EventLine { event }).unwrap_or_default();
    line.push(b'\n');
    line
}

/// The write side with a deadline on every write: a client that stops reading is dropped
/// instead of holding replies forever.
struct Writer {
    inner: BufWriter<OwnedWriteHalf>,
    timeout: Duration,
}

impl Writer {
    async fn write(&mut self, line: &[u8]) -> io::Result<()> {
        tokio::time::timeout(self.timeout, self.inner.write_all(line))
            .await
            .unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into()))
    }

    async fn flush(&mut self) -> io::Result<()> {
        tokio::time::timeout(self.timeout, self.inner.flush())
            .await
            .unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into()))
    }
}
