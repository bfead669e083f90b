//! The control socket in-process, and the `smpp-sim` binary end to end (README's path).

mod common;

use std::process::Stdio;

use common::{Bind, Client, WAIT, receipt_fields, start_sim, submit_sm, ucs2_text};
use rusmpp::CommandStatus;
use serde_json::{Value, json};
use smpp_sim::control::{ControlServer, Request, request};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Command;

#[tokio::test]
async fn control_socket_reads_stats_injects_mo_and_switches_faults() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ctl.sock");
    let sim = start_sim(0).await;
    let server = ControlServer::start(sim.clone(), &path).await.unwrap();
    let mut client = Client::bound(&sim, "kcell", Bind::Trx).await;
    client.submit(submit_sm("77011234567", "hi")).await;
    client.next_deliver_sm().await; // its receipt

    let stats = request(&path, &Request::Stats).await.unwrap();
    assert_eq!(stats["ok"], json!(true));
    assert_eq!(stats["stats"][0]["operator"], json!("kcell"));
    assert_eq!(stats["stats"][0]["submits"], json!(1));

    let messages = request(&path, &Request::Messages { last: 5 })
        .await
        .unwrap();
    assert_eq!(messages["messages"][0]["text"], json!("hi"));

    let inject = Request::InjectMo {
        operator: "kcell".into(),
        from: "77019998877".into(),
        to: "1414".into(),
        text: "Иә".into(),
    };
    assert_eq!(request(&path, &inject).await.unwrap()["parts"], json!(1));
    let mo = client.next_deliver_sm().await;
    assert_eq!(ucs2_text(mo.short_message().as_ref()), "Иә");

    let fault = Request::Fault {
        operator: "kcell".into(),
        kind: "throttle".into(),
        value: Some(json!(1.0)),
    };
    let answer = request(&path, &fault).await.unwrap();
    assert_eq!(answer["faults"]["throttle_share"], json!(1.0));
    assert_eq!(
        client.submit(submit_sm("77011234567", "x")).await.0,
        CommandStatus::EsmeRthrottled
    );

    let bad = Request::Fault {
        operator: "kcell".into(),
        kind: "explode".into(),
        value: None,
    };
    let answer = request(&path, &bad).await.unwrap();
    assert_eq!(answer["ok"], json!(false));
    assert!(answer["error"].as_str().unwrap().contains("explode"));
    drop(server);
    assert!(!path.exists(), "socket file removed");
    sim.shutdown().await;
}

async fn ctl(bin: &str, socket: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(bin)
        .arg("ctl")
        .arg("--socket")
        .arg(socket)
        .args(args)
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "ctl {args:?} failed: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn the_binary_serves_answers_ctl_and_reports_on_sigterm() {
    let bin = env!("CARGO_BIN_EXE_smpp-sim");
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("sim.sock");
    let mut child = Command::new(bin)
        .args(["--operator", "name=kcell,port=0", "--receipt-delay", "0-5"])
        .arg("--control-socket")
        .arg(&socket)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut addr = None;
    let mut line = String::new();
    while addr.is_none() || !socket.exists() {
        line.clear();
        let n = tokio::time::timeout(WAIT, stdout.read_line(&mut line))
            .await
            .expect("startup output")
            .unwrap();
        assert!(n > 0, "smpp-sim exited early");
        if let Some(rest) = line.trim().strip_prefix("kcell") {
            let text = rest.trim().trim_start_matches("listening on ");
            addr = text.split_whitespace().next().and_then(|a| a.parse().ok());
        }
    }
    let addr: std::net::SocketAddr = addr.unwrap();

    let mut client = Client::connect(addr).await;
    assert_eq!(
        client.bind(Bind::Trx, "kcell", "secret").await,
        CommandStatus::EsmeRok
    );
    let (status, id) = client.submit(submit_sm("77011234567", "via binary")).await;
    assert_eq!(status, CommandStatus::EsmeRok);
    assert_eq!(receipt_fields(&client.next_deliver_sm().await)["id"], id);

    let stats: Value =
        serde_json::from_str(&ctl(bin, &socket, &["stats", "--json"]).await).unwrap();
    assert_eq!(stats["stats"][0]["submits"], json!(1));
    ctl(
        bin,
        &socket,
        &[
            "inject-mo",
            "--operator",
            "kcell",
            "--from",
            "77015550000",
            "--text",
            "Иә",
        ],
    )
    .await;
    let mo = client.next_deliver_sm().await;
    assert_eq!(mo.source_addr.as_str(), "77015550000");
    ctl(bin, &socket, &["fault", "kcell", "queue-full", "1"]).await;
    assert_eq!(
        client.submit(submit_sm("77011234567", "full")).await.0,
        CommandStatus::EsmeRmsgqful
    );

    let pid = child.id().unwrap().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(WAIT, child.wait())
        .await
        .expect("exits after SIGTERM")
        .unwrap();
    assert!(status.success(), "exit status {status:?}");
    let mut report = String::new();
    stdout.read_to_string(&mut report).await.unwrap();
    let submits = report
        .lines()
        .find(|l| l.starts_with("submits"))
        .expect("a submits row");
    assert_eq!(submits.split_whitespace().last(), Some("2"));
}
