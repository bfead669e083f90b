//! Pipelining, and the limits that keep bad clients from hurting good ones: line cap, idle
//! timeout, connection cap, and clients that stop reading.

mod api_support;

use api_support::{TestServer, ask, code_of, submit, within};
use khabar::api::protocol::SubmitOk;
use khabar::api::{Client, ClientError, ServerConfig};
use serde_json::json;
use std::collections::HashSet;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;

#[tokio::test]
async fn a_thousand_pipelined_requests_are_answered_in_order() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let requests = (0..1000)
        .map(|i| {
            let mut r = submit(&format!("message {i}"));
            r["id"] = json!(format!("req-{i}"));
            r["reference"] = json!(format!("ref-{i}"));
            r
        })
        .collect();
    let replies = within(client.pipeline(requests)).await.expect("replies");
    assert_eq!(replies.len(), 1000);
    let mut ids = HashSet::new();
    for (i, reply) in replies.into_iter().enumerate() {
        assert_eq!(reply.id, Some(json!(format!("req-{i}"))));
        let ok: SubmitOk = reply.into_payload().unwrap().expect("accepted");
        assert!(!ok.duplicate);
        // The id answered for request i is the message the backend stored for request i.
        let stored = server.backend.message(ok.message_id).expect("stored");
        assert_eq!(
            stored.text.as_deref(),
            Some(format!("message {i}").as_str())
        );
        assert!(ids.insert(ok.message_id));
    }
}

#[tokio::test]
async fn a_ten_megabyte_line_is_refused_without_stopping_anyone() {
    let server = TestServer::start().await;
    let mut big = server.client().await;
    let mut other = server.client().await;
    // Half the line, then another client is served, then the rest of the line.
    let half = vec![b'a'; 5 << 20];
    within(big.send_raw(b"{\"op\":\"submit\",\"text\":\""))
        .await
        .unwrap();
    within(big.send_raw(&half)).await.unwrap();
    let reply = ask(&mut other, submit("while a huge line is arriving")).await;
    assert!(reply.result.is_ok(), "{reply:?}");
    within(big.send_raw(&half)).await.unwrap();
    within(big.send_raw(b"\"}\n{\"op\":\"ping\",\"id\":\"after\"}\n"))
        .await
        .unwrap();
    let refused = within(big.read_answer()).await.unwrap();
    assert_eq!(code_of(&refused), "line_too_long");
    let pong = within(big.read_answer()).await.unwrap();
    assert_eq!(pong.id, Some(json!("after")));
    assert!(pong.result.is_ok());
}

#[tokio::test]
async fn a_thousand_idle_connections_leave_room_for_a_working_client() {
    let config = ServerConfig {
        max_connections: 1100,
        // all of them are this test's user
        max_connections_per_uid: 1099,
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(config, 1_000_000).await;
    let mut idle = Vec::new();
    for _ in 0..1000 {
        idle.push(within(UnixStream::connect(&server.path)).await.unwrap());
    }
    let mut worker = server.client().await;
    let ok: SubmitOk = ask(&mut worker, submit("still served"))
        .await
        .into_payload()
        .unwrap()
        .unwrap();
    let got = ask(
        &mut worker,
        json!({"op": "get", "message_id": ok.message_id.to_string()}),
    )
    .await;
    assert!(got.result.is_ok());
    // The idle ones were admitted too: each answers a ping.
    for stream in idle.iter_mut().step_by(50) {
        stream.write_all(b"{\"op\":\"ping\"}\n").await.unwrap();
    }
    for stream in idle.into_iter().step_by(50) {
        let mut client = ClientOver(stream);
        assert!(client.reply().await.contains("\"ok\":true"));
    }
}

/// Reads one line from a raw stream.
struct ClientOver(UnixStream);

impl ClientOver {
    async fn reply(&mut self) -> String {
        use tokio::io::AsyncBufReadExt;
        let mut reader = tokio::io::BufReader::new(&mut self.0);
        let mut line = String::new();
        within(reader.read_line(&mut line)).await.unwrap();
        line
    }
}

#[tokio::test]
async fn a_silent_client_is_closed_after_the_idle_timeout() {
    let config = ServerConfig {
        idle_timeout: Duration::from_millis(300),
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(config, 10).await;
    let mut silent = server.client().await;
    let farewell = within(silent.read_answer()).await.unwrap();
    assert_eq!(code_of(&farewell), "idle_timeout");
    assert!(matches!(
        within(silent.read_line()).await,
        Err(ClientError::Closed)
    ));
    // Its slot is free again for others.
    let mut next = server.client().await;
    assert!(ask(&mut next, json!({"op": "ping"})).await.result.is_ok());
}

#[tokio::test]
async fn a_client_that_stops_reading_is_dropped_instead_of_buffered() {
    let config = ServerConfig {
        write_timeout: Duration::from_millis(300),
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(config, 10).await;
    let stream = within(UnixStream::connect(&server.path)).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    // Far more replies than socket buffers hold; the writer stops when the server hangs up.
    const REQUESTS: usize = 200_000;
    let writer = tokio::spawn(async move {
        let line = b"{\"op\":\"status\"}\n";
        for _ in 0..REQUESTS {
            if write.write_all(line).await.is_err() {
                break;
            }
        }
    });
    // Not reading: wait until the server gives up on this client (the writer then fails).
    within(writer).await.unwrap();
    // Whatever was buffered before the hang-up is far short of every reply.
    let mut rest = Vec::new();
    use tokio::io::AsyncReadExt;
    let _ = within(read.read_to_end(&mut rest)).await;
    let answered = rest.iter().filter(|b| **b == b'\n').count();
    assert!(answered < REQUESTS, "{answered} replies");
    // Others are unaffected.
    let mut other = server.client().await;
    assert!(ask(&mut other, json!({"op": "ping"})).await.result.is_ok());
}

#[tokio::test]
async fn a_client_over_the_cap_is_told_and_a_freed_slot_is_reused() {
    // one user may hold all but one of the 3 slots (max_connections_per_uid is capped below
    // the total), so this test's third connection is over its cap
    let config = ServerConfig {
        max_connections: 3,
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(config, 10).await;
    let mut a = server.client().await;
    let b = server.client().await;
    assert!(ask(&mut a, json!({"op": "ping"})).await.result.is_ok());
    let mut refused = server.client().await;
    let reply = within(refused.read_answer()).await.unwrap();
    assert_eq!(code_of(&reply), "too_many_connections");
    drop(b);
    // The freed slot is reusable once the server has noticed; retry until it has.
    within(async {
        loop {
            let mut c = Client::connect(&server.path).await.unwrap();
            if c.request(json!({"op": "ping"}))
                .await
                .is_ok_and(|r| r.result.is_ok())
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}
