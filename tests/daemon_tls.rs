//! `tls = true` and `ca_file` on an `[[operator]]`, against a real smpp-sim serving its
//! operators over TLS, over real sockets on 127.0.0.1: a CA given as a path relative to
//! config.toml delivers messages and brings receipts back; a certificate from another CA,
//! and a plain SMPP port behind `tls = true`, fail the bind with an error `khabar status`
//! shows while the daemon keeps running and keeps the message; a ca_file that cannot be read
//! stops `khabar run` from starting.
//!
//! The certificates are made here with rcgen and written into each test's directory: a test
//! CA, a server certificate for `localhost` and 127.0.0.1 signed by it, and an unrelated CA.

mod daemon_support;
#[path = "daemon_faults/helpers.rs"]
mod helpers;

use daemon_support::{
    Daemon, PATIENCE, Tuning, sigterm, submit, wait_exit_ok, wait_final, wait_for_socket,
    write_tuned_config,
};
use helpers::{all_binds_up, get, kcell_number, wait_for_status};
use khabar::api::client::Client;
use khabar::api::views::{BindState, OperatorStatus, StatusReport};
use khabar::message::State;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use smpp_sim::{SimConfig, SimHandle, Simulator, TlsConfig};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

/// Where every test's config points `ca_file`: relative, so from config.toml's directory.
const CA_FILE: &str = "certs/ca.pem";

/// A self-signed CA named `name`.
fn new_ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// Makes `dir/certs/`: the server certificate and key the simulator presents (for
/// `localhost` and 127.0.0.1, signed by a test CA) and, as `ca.pem`, the CA khabar is told
/// to trust: the one that signed it when `trusted`, an unrelated one otherwise. Returns the
/// simulator's TLS settings.
fn make_certs(dir: &Path, trusted: bool) -> TlsConfig {
    let certs = dir.join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    let ca = new_ca("khabar test CA");
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let cert = params.signed_by(&key, &ca).unwrap();
    std::fs::write(certs.join("server.pem"), cert.pem()).unwrap();
    std::fs::write(certs.join("server.key"), key.serialize_pem()).unwrap();
    let told = if trusted {
        ca.pem()
    } else {
        new_ca("an unrelated CA").pem()
    };
    std::fs::write(dir.join(CA_FILE), told).unwrap();
    TlsConfig {
        cert_file: certs.join("server.pem"),
        key_file: certs.join("server.key"),
    }
}

/// smpp-sim's three operators on ephemeral ports, quick receipts, each served over TLS with
/// `tls` (or plain SMPP when `None`).
async fn simulator(tls: Option<TlsConfig>) -> SimHandle {
    let mut config = SimConfig::ephemeral();
    config.receipts.min_delay_ms = 10;
    config.receipts.max_delay_ms = 100;
    for operator in &mut config.operators {
        operator.tls = tls.clone();
    }
    Simulator::start(config).await.expect("start smpp-sim")
}

/// Writes `dir/config.toml` for `sim` with `tls = true` and the relative [`CA_FILE`] on every
/// operator; returns its path.
fn tls_config(dir: &Path, sim: &SimHandle) -> PathBuf {
    let tuning = Tuning {
        binds: 1,
        operator: format!("tls = true\nca_file = {CA_FILE:?}\n"),
        ..Tuning::default()
    };
    write_tuned_config(dir, sim, &tuning)
}

/// Runs `khabar ARGS` and returns what it printed and its exit status, within `PATIENCE`.
async fn khabar(args: &[&str], config: &Path, cwd: &Path) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_khabar"));
    command
        .arg("--config")
        .arg(config)
        .args(args)
        .current_dir(cwd)
        .env_remove("KHABAR_SOCKET")
        .env_remove("KHABAR_CONFIG")
        .kill_on_drop(true);
    tokio::time::timeout(PATIENCE, command.output())
        .await
        .unwrap_or_else(|_| panic!("khabar {args:?} did not finish in time"))
        .expect("run khabar")
}

/// The status entry of `name`.
fn operator<'a>(status: &'a StatusReport, name: &str) -> &'a OperatorStatus {
    status
        .operators
        .iter()
        .find(|o| o.name == name)
        .unwrap_or_else(|| panic!("no operator {name} in {status:?}"))
}

/// True once every bind of every operator has failed at least once: all down, each operator
/// with a last error.
fn every_bind_failed(status: &StatusReport) -> bool {
    status.operators.iter().all(|o| {
        o.last_error.is_some()
            && !o.binds.is_empty()
            && o.binds.iter().all(|b| b.state != BindState::Up)
    })
}

/// Waits until every bind failed, checks the daemon still answers and still holds the queued
/// message `id`, and returns kcell's last error as status gives it.
async fn bind_error_and_message_kept(
    client: &mut Client,
    id: khabar::message::MessageId,
) -> String {
    let status = wait_for_status(client, "every bind failing", every_bind_failed).await;
    let error = operator(&status, "kcell")
        .last_error
        .as_ref()
        .unwrap()
        .message
        .clone();
    // the daemon goes on: it answers, retries the bind (it stays down) and keeps the message
    let again = client.status().await.expect("socket").expect("status");
    assert!(
        operator(&again, "kcell")
            .binds
            .iter()
            .all(|b| b.state != BindState::Up)
    );
    let view = get(client, id).await;
    assert!(
        matches!(view.state, State::Queued | State::Submitting) && view.parts.is_empty(),
        "{view:?}"
    );
    error
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tls_with_the_operators_ca_delivers_and_brings_receipts_back() {
    let dir = tempfile::tempdir().unwrap();
    let sim = simulator(Some(make_certs(dir.path(), true))).await;
    let config = tls_config(dir.path(), &sim);
    // khabar runs elsewhere: ca_file = "certs/ca.pem" must be found next to config.toml
    let elsewhere = tempfile::tempdir().unwrap();
    assert!(!elsewhere.path().join(CA_FILE).exists());
    let daemon = std::process::Command::new(env!("CARGO_BIN_EXE_khabar"))
        .arg("--config")
        .arg(&config)
        .arg("run")
        .current_dir(elsewhere.path())
        .env_remove("KHABAR_SOCKET")
        .env_remove("KHABAR_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start khabar");
    let socket = dir.path().join("khabar.sock");
    wait_for_socket(&socket).await;
    let mut client = Client::connect(&socket).await.unwrap();
    wait_for_status(&mut client, "every bind up", all_binds_up).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let text = format!("TLS арқылы хабарлама {n}");
        ids.push(submit(&mut client, &kcell_number(5, n), &text, "notification").await);
    }
    for id in ids {
        // delivered: the receipt came back on the bind, and the bind is TLS
        let view = wait_final(&mut client, id).await;
        assert_eq!(view.state, State::Delivered, "{view:?}");
    }
    // the simulator counts a receipt once it has read khabar's deliver_sm_resp to it
    sim.wait_for_stats("kcell", PATIENCE, |s| s.receipts_acked >= 3)
        .await
        .expect("the receipts were answered over TLS");
    for stats in sim.stats() {
        assert_eq!(stats.tls_handshake_failures, 0, "{stats:?}");
    }
    let status = client.status().await.unwrap().unwrap();
    assert!(
        operator(&status, "kcell").last_error.is_none(),
        "{status:?}"
    );
    sigterm(&daemon);
    wait_exit_ok(daemon).await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_certificate_from_another_ca_fails_the_bind_and_status_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let sim = simulator(Some(make_certs(dir.path(), false))).await;
    let config = tls_config(dir.path(), &sim);
    let daemon = Daemon::start(&config).await;
    let mut client = daemon.client().await;
    let id = submit(&mut client, &kcell_number(6, 1), "Сәлем", "notification").await;
    let error = bind_error_and_message_kept(&mut client, id).await;
    let ca_file = dir.path().join(CA_FILE);
    assert!(
        error.contains("TLS handshake failed")
            && error.contains("certificate")
            && error.contains("UnknownIssuer")
            && error.contains(&format!("ca_file {}", ca_file.display())),
        "status shows: {error}"
    );
    // what the operator on duty reads
    let out = khabar(&["status"], &config, dir.path()).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("kcell#1") && l.contains(": DOWN since")),
        "{text}"
    );
    assert!(
        text.contains("kcell last error") && text.contains("UnknownIssuer"),
        "{text}"
    );
    // the simulator saw the handshake fail; no bind was made
    let kcell = sim.operator_stats("kcell").unwrap();
    assert!(kcell.tls_handshake_failures >= 1, "{kcell:?}");
    assert_eq!((kcell.binds_total, kcell.parts), (0, 0), "{kcell:?}");
    daemon.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tls_against_a_plain_port_fails_the_bind_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    make_certs(dir.path(), true);
    let sim = simulator(None).await;
    let config = tls_config(dir.path(), &sim);
    let daemon = Daemon::start(&config).await;
    let mut client = daemon.client().await;
    let id = submit(&mut client, &kcell_number(7, 1), "Сәлем", "notification").await;
    let error = bind_error_and_message_kept(&mut client, id).await;
    assert!(
        error.contains("TLS handshake failed") && error.contains("does not speak TLS"),
        "status shows: {error}"
    );
    let kcell = sim.operator_stats("kcell").unwrap();
    assert_eq!((kcell.binds_total, kcell.parts), (0, 0), "{kcell:?}");
    daemon.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_ca_file_stops_khabar_run_and_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let sim = simulator(None).await;
    // no certs/ directory at all: ca_file names a file that does not exist
    let config = tls_config(dir.path(), &sim);
    let out = khabar(&["run"], &config, dir.path()).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let missing = dir.path().join(CA_FILE);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("khabar: ")
            && last.contains(&format!("ca_file {}", missing.display()))
            && last.contains("No such file or directory"),
        "{stderr}"
    );
    // nothing answers on the socket
    assert!(
        Client::connect(&dir.path().join("khabar.sock"))
            .await
            .is_err()
    );
    sim.shutdown().await;
}
