//! The socket file: its mode, who may connect, stale files, and shutdown.

mod api_support;

use api_support::{TestServer, ask, code_of, within};
use khabar::api::server::{SOCKET_MODE, Server, ServerError};
use khabar::api::{ClientError, ServerConfig};
use serde_json::json;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};

#[tokio::test]
async fn the_socket_is_created_with_mode_0660() {
    let server = TestServer::start().await;
    let meta = std::fs::metadata(&server.path).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o660);
    assert_eq!(SOCKET_MODE, 0o660);
    // No temporary name is left behind next to it.
    let names: Vec<_> = std::fs::read_dir(server.dir.path()).unwrap().collect();
    assert_eq!(names.len(), 1);
}

#[tokio::test]
async fn peers_are_admitted_by_uid_or_gid_and_others_refused() {
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let stranger = ServerConfig {
        allowed_uids: vec![uid.wrapping_add(1)],
        allowed_gids: vec![gid.wrapping_add(1)],
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(stranger, 10).await;
    let mut refused = server.client().await;
    let reply = within(refused.read_answer()).await.unwrap();
    assert_eq!(code_of(&reply), "forbidden");
    assert!(
        reply
            .result
            .unwrap_err()
            .message
            .contains(&format!("uid {uid}"))
    );
    assert!(matches!(
        within(refused.read_line()).await,
        Err(ClientError::Closed)
    ));
    server.stop().await;

    for config in [
        ServerConfig {
            allowed_uids: vec![uid],
            ..ServerConfig::default()
        },
        ServerConfig {
            allowed_uids: vec![uid.wrapping_add(1)],
            allowed_gids: vec![gid],
            ..ServerConfig::default()
        },
    ] {
        let server = TestServer::start_with(config, 10).await;
        let mut client = server.client().await;
        assert!(ask(&mut client, json!({"op": "ping"})).await.result.is_ok());
        server.stop().await;
    }
}

#[tokio::test]
async fn a_stale_socket_is_replaced_but_a_live_one_or_a_file_is_not() {
    let server = TestServer::start().await;
    // Live: a second daemon on the same path must not steal it.
    let second = Server::bind(&server.path, ServerConfig::default());
    assert!(matches!(second, Err(ServerError::AlreadyRunning(_))));
    let mut client = server.client().await;
    assert!(ask(&mut client, json!({"op": "ping"})).await.result.is_ok());

    // Stale: a socket file left by a crashed daemon (bound, then the listener dropped).
    let stale = server.dir.path().join("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    assert!(stale.exists());
    let replaced = Server::bind(&stale, ServerConfig::default());
    assert!(replaced.is_ok(), "{replaced:?}");

    // Not a socket: left alone.
    let file = server.dir.path().join("notes.txt");
    std::fs::write(&file, "keep me").unwrap();
    assert!(matches!(
        Server::bind(&file, ServerConfig::default()),
        Err(ServerError::NotASocket(_))
    ));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
}

#[tokio::test]
async fn shutdown_finishes_what_it_read_says_goodbye_and_removes_the_socket() {
    let server = TestServer::start().await;
    let path = server.path.clone();
    let mut client = server.client().await;
    // Once a request was answered the connection is surely accepted (not still in the backlog).
    assert!(ask(&mut client, json!({"op": "ping"})).await.result.is_ok());
    let mut lines = Vec::new();
    for i in 0..50 {
        let request =
            json!({"id": i, "op": "submit", "to": "+77011234567", "text": format!("m{i}")});
        lines.extend(serde_json::to_vec(&request).unwrap());
        lines.push(b'\n');
    }
    within(client.send_raw(&lines)).await.unwrap();
    server.stop().await;
    // Whatever the server had read before the shutdown is answered, in order, and each
    // answer is an acceptance; then the farewell.
    let mut answered = 0;
    loop {
        let reply = within(client.read_answer()).await.unwrap();
        if reply.id.is_none() {
            assert_eq!(code_of(&reply), "shutting_down");
            break;
        }
        assert_eq!(reply.id, Some(json!(answered)));
        assert!(reply.result.is_ok(), "{reply:?}");
        answered += 1;
    }
    assert!(answered <= 50);
    assert!(!path.exists());
    assert!(matches!(
        khabar::api::Client::connect(&path).await,
        Err(ClientError::Unreachable { .. })
    ));
}
