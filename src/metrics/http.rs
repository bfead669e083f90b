//! A minimal HTTP/1.1 responder for `GET /metrics`. One read-only endpoint on loopback does
//! not justify an HTTP server dependency; requests are bounded in size, time and number.

use crate::api::backend::Backend;
use crate::store::Store;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

const MAX_REQUEST: usize = 8 * 1024;
const TIMEOUT: Duration = Duration::from_secs(5);
const MAX_CONNECTIONS: usize = 16;

/// Serves the endpoint on `listener` until `stop`.
pub async fn serve<B: Backend>(
    listener: TcpListener,
    backend: Arc<B>,
    store: Store,
    latencies: super::Latencies,
    stop: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.cancelled() => return,
        };
        let Ok((stream, _)) = accepted else { continue };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            continue; // over the cap: the connection is simply closed
        };
        let (backend, store, latencies) = (backend.clone(), store.clone(), latencies.clone());
        tokio::spawn(async move {
            let scrape = answer(stream, &*backend, &store, &latencies);
            let _ = tokio::time::timeout(TIMEOUT, scrape).await;
            drop(slot);
        });
    }
}

/// Binds the listener (a clear error for a taken or non-local address).
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, String> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot serve metrics on {addr}: {e}"))
}

async fn answer<B: Backend>(
    mut stream: TcpStream,
    backend: &B,
    store: &Store,
    latencies: &super::Latencies,
) -> std::io::Result<()> {
    let mut request = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 || request.len() + n > MAX_REQUEST {
            return Ok(());
        }
        request.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&request);
    let (status, body) = if line.starts_with("GET /metrics ") || line.starts_with("GET /metrics?") {
        match super::scrape(backend, store.counts(), latencies).await {
            Ok(text) => ("200 OK", text),
            Err(e) => ("503 Service Unavailable", format!("{e}\n")),
        }
    } else {
        (
            "404 Not Found",
            "only GET /metrics is served here\n".to_owned(),
        )
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}
