//! Scenario A: durable accepts over the socket, each answered after its fsync.
//!
//! Sending is held back so it does not compete: the daemon has one operator capped at 1 part/s
//! with a window of 1, so the sending stage claims a handful of messages and then waits on
//! that operator's full job queue for the rest of the run.

use crate::harness::{Daemon, Shape};
use crate::traffic;
use khabar::api::client::Client;
use serde_json::Value;
use smpp_sim::SimHandle;
use std::time::Instant;

/// How the clients talk to the daemon.
#[derive(Clone, Copy, Debug)]
pub enum Style {
    /// Every `submit` written without waiting for the previous reply.
    Pipelined,
    /// One `submit`, wait for its reply, the next.
    OneAtATime,
    /// `submit_batch` of this many messages, one batch at a time per client.
    Batches(u64),
}

/// One accept case: `clients` connections sharing `messages` submissions.
#[derive(Clone, Copy, Debug)]
pub struct Case {
    /// Row label.
    pub label: &'static str,
    /// Concurrent connections.
    pub clients: u64,
    /// How they submit.
    pub style: Style,
    /// Messages over all clients.
    pub messages: u64,
}

/// The cases of scenario A, sized from `messages` (the pipelined and batch totals).
pub fn cases(messages: u64) -> Vec<Case> {
    let case = |label, clients, style, messages| Case {
        label,
        clients,
        style,
        messages,
    };
    vec![
        case("1 client, pipelined submit", 1, Style::Pipelined, messages),
        case("8 clients, pipelined submit", 8, Style::Pipelined, messages),
        case(
            "8 clients, one submit at a time",
            8,
            Style::OneAtATime,
            messages / 5,
        ),
        case(
            "1 client, submit_batch of 1,000",
            1,
            Style::Batches(1_000),
            messages,
        ),
        case(
            "4 clients, submit_batch of 1,000",
            4,
            Style::Batches(1_000),
            messages,
        ),
    ]
}

/// The daemon shape that keeps sending out of the way.
const HELD_BACK: Shape = Shape {
    operators: 1,
    binds: 1,
    window: 1,
    tps: 1,
};

/// One client's requests, built before the clock starts.
enum Work {
    /// `submit` requests (with `op`), pipelined or one at a time.
    Singles(Vec<Value>, bool),
    /// `submit_batch` item lists.
    Batches(Vec<Vec<Value>>),
}

fn work(style: Style, range: std::ops::Range<u64>, tag: &str) -> Work {
    match style {
        Style::Pipelined | Style::OneAtATime => Work::Singles(
            range
                .map(|n| {
                    let mut request = traffic::request(n, tag);
                    request["op"] = "submit".into();
                    request
                })
                .collect(),
            matches!(style, Style::Pipelined),
        ),
        Style::Batches(size) => {
            let items: Vec<Value> = range.map(|n| traffic::request(n, tag)).collect();
            Work::Batches(items.chunks(size as usize).map(<[Value]>::to_vec).collect())
        }
    }
}

/// Runs one case against a fresh daemon; returns accepted messages per second.
pub async fn run(sim: &SimHandle, case: Case, run: usize) -> Result<f64, String> {
    let daemon = Daemon::start(sim, HELD_BACK).await?;
    let per_client = case.messages / case.clients;
    let tag = format!("a{run}");
    let mut clients = Vec::new();
    for c in 0..case.clients {
        let first = c * per_client;
        let work = work(case.style, first..first + per_client, &tag);
        clients.push((daemon.client().await?, work));
    }
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (client, work) in clients {
        tasks.spawn(submit(client, work));
    }
    let mut accepted = 0;
    while let Some(done) = tasks.join_next().await {
        accepted += done.map_err(|e| e.to_string())??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    daemon.stop().await?;
    let expected = per_client * case.clients;
    if accepted != expected {
        return Err(format!("{}: {accepted} of {expected} accepted", case.label));
    }
    Ok(accepted as f64 / elapsed)
}

/// One client's share; returns how many were accepted.
async fn submit(mut client: Client, work: Work) -> Result<u64, String> {
    let failed = |e: &dyn std::fmt::Display| format!("submit failed: {e}");
    let mut accepted = 0;
    match work {
        Work::Singles(requests, true) => {
            for reply in client.pipeline(requests).await.map_err(|e| failed(&e))? {
                reply.result.map_err(|e| failed(&e))?;
                accepted += 1;
            }
        }
        Work::Singles(requests, false) => {
            for request in requests {
                let reply = client.request(request).await.map_err(|e| failed(&e))?;
                reply.result.map_err(|e| failed(&e))?;
                accepted += 1;
            }
        }
        Work::Batches(batches) => {
            for batch in batches {
                let reply = client.submit_batch(batch).await;
                let reply = reply.map_err(|e| failed(&e))?.map_err(|e| failed(&e))?;
                accepted += reply.accepted as u64;
            }
        }
    }
    Ok(accepted)
}
