//! The control socket in-process, and the `smpp-sim` binary end to end (README's path).

mod common;

use std::process::Stdio;

use common::raw::RawClient;
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

#[tokio::test]
async fn control_socket_unbinds_injects_and_switches_the_new_faults() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ctl.sock");
    let sim = start_sim(0).await;
    let _server = ControlServer::start(sim.clone(), &path).await.unwrap();
    let mut esme = RawClient::bound(&sim, "kcell", Bind::Trx).await;

    let inject = Request::Inject {
        operator: "kcell".into(),
        pdu: "unknown-command".into(),
        octets: None,
    };
    assert_eq!(
        request(&path, &inject).await.unwrap()["connections"],
        json!(1)
    );
    let unknown = esme.next_of(0x0000_0099).await;
    esme.answer(0x8000_0000, 3, unknown.sequence).await;
    let large = Request::Inject {
        operator: "kcell".into(),
        pdu: "large-deliver-sm".into(),
        octets: Some(4000),
    };
    assert_eq!(
        request(&path, &large).await.unwrap()["connections"],
        json!(1)
    );
    let deliver = esme.next_of(0x0000_0005).await;
    assert_eq!(deliver.command_length, 4000);
    esme.ack_deliver(deliver.sequence, 0).await;
    let seq = esme.send_request(rusmpp::Pdu::EnquireLink).await;
    esme.response_to(seq).await;
    let injected = request(
        &path,
        &Request::Injected {
            operator: "kcell".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(injected["injected"][0]["pdu"], json!("unknown-command"));
    assert_eq!(
        injected["injected"][0]["answers"],
        json!([[0x8000_0000u32, 3]])
    );
    assert_eq!(
        injected["injected"][1]["pdu"],
        json!({"large-deliver-sm": 4000})
    );
    let bad = Request::Inject {
        operator: "kcell".into(),
        pdu: "large-deliver-sm".into(),
        octets: None,
    };
    assert_eq!(request(&path, &bad).await.unwrap()["ok"], json!(false));

    let times = request(
        &path,
        &Request::BindTimes {
            operator: "kcell".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(times["bind_ms_ago"].as_array().map(Vec::len), Some(1));

    for (kind, value) in [
        ("nack", json!(0.5)),
        ("pause", json!(0)),
        ("refuse-binds", json!(2)),
        ("large-after-bind", json!("off")),
        ("close-after-bind", json!(250)),
    ] {
        let fault = Request::Fault {
            operator: "kcell".into(),
            kind: kind.into(),
            value: Some(value),
        };
        let answer = request(&path, &fault).await.unwrap();
        assert_eq!(answer["ok"], json!(true), "{kind}: {answer}");
    }
    let faults = sim.faults("kcell").unwrap();
    assert_eq!(faults.nack_share, 0.5);
    assert_eq!(faults.refuse_binds, 2);
    assert_eq!(faults.close_after_bind_ms, Some(250));
    sim.clear_faults("kcell").unwrap();

    let unbind = Request::Unbind {
        operator: "kcell".into(),
    };
    assert_eq!(
        request(&path, &unbind).await.unwrap()["connections"],
        json!(1)
    );
    let u = esme.next_of(0x0000_0006).await;
    esme.answer(0x8000_0006, 0, u.sequence).await;
    assert!(esme.closed_by_server().await);
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
