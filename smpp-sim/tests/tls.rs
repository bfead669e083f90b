//! SMPP over TLS: an operator with a `tls` table serves binds, submits and receipts over TLS;
//! a client that speaks plain SMPP to it, or does not trust its certificate, is closed and
//! counted; a certificate file that cannot be read stops the simulator from starting.
//!
//! The certificates are made here (rcgen): a test CA, a server certificate for `localhost`
//! and 127.0.0.1 signed by it, and a second, unrelated CA.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::{Bind, Client, WAIT, receipt_fields, submit_sm};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rusmpp::CommandStatus;
use smpp_sim::{SimConfig, SimHandle, Simulator, TlsConfig};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

/// A self-signed CA named `name`.
fn new_ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// The test PKI in `dir`: `ca.pem`, `server.pem` and `server.key` (for `localhost` and
/// 127.0.0.1, signed by that CA); returns the operator's TLS config and the CA's certificate.
fn make_certs(dir: &Path) -> (TlsConfig, CertificateDer<'static>) {
    let ca = new_ca("smpp-sim test CA");
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let cert = params.signed_by(&key, &ca).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.join("server.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
    let tls = TlsConfig {
        cert_file: dir.join("server.pem"),
        key_file: dir.join("server.key"),
    };
    (tls, ca.der().clone())
}

/// One operator `kcell` served over TLS with `tls`, receipts at once.
async fn tls_sim(tls: TlsConfig) -> SimHandle {
    let mut config = SimConfig::single("kcell");
    config.receipts.min_delay_ms = 0;
    config.receipts.max_delay_ms = 0;
    config.operators[0].tls = Some(tls);
    Simulator::start(config).await.expect("simulator starts")
}

/// A TLS handshake with `sim`'s kcell port as `server_name`, trusting only `ca`.
async fn tls_connect(
    sim: &SimHandle,
    ca: CertificateDer<'static>,
    server_name: &str,
) -> std::io::Result<TlsStream<TcpStream>> {
    let mut roots = RootCertStore::empty();
    roots.add(ca).unwrap();
    let config = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(sim.addr("kcell").unwrap()).await?;
    let name = ServerName::try_from(server_name.to_string()).unwrap();
    TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
}

#[tokio::test]
async fn a_tls_client_binds_submits_and_gets_its_receipt() {
    let dir = tempfile::tempdir().unwrap();
    let (tls, ca) = make_certs(dir.path());
    let sim = tls_sim(tls).await;
    assert!(sim.operators()[0].tls);
    // by name and by address: the certificate names both
    for server_name in ["localhost", "127.0.0.1"] {
        let stream = tls_connect(&sim, ca.clone(), server_name)
            .await
            .expect("the handshake succeeds");
        let mut client = Client::over(stream);
        let status = client.bind(Bind::Trx, "kcell", "secret").await;
        assert_eq!(status, CommandStatus::EsmeRok, "bind over TLS");
        let to = "77011234567";
        let (status, id) = client.submit(submit_sm(to, "Your code is 4821")).await;
        assert_eq!(status, CommandStatus::EsmeRok);
        let receipt = client.next_deliver_sm().await;
        let fields = receipt_fields(&receipt);
        assert_eq!(fields["id"], id);
        assert_eq!(fields["stat"], "DELIVRD");
    }
    let messages = sim.wait_for_messages(2, WAIT).await.unwrap();
    assert_eq!(messages[0].text, "Your code is 4821");
    let stats = sim
        .wait_for_stats("kcell", WAIT, |s| s.receipts_acked == 2)
        .await
        .unwrap();
    assert_eq!((stats.binds_total, stats.tls_handshake_failures), (2, 0));
    sim.shutdown().await;
}

#[tokio::test]
async fn plain_smpp_on_a_tls_port_is_closed_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let (tls, _) = make_certs(dir.path());
    let sim = tls_sim(tls).await;
    let mut client = Client::connect(sim.addr("kcell").unwrap()).await;
    let bind = common::bind_pdu(Bind::Trx, "kcell", "secret");
    let sequence = client.next_sequence();
    client
        .send(rusmpp::Command::new(CommandStatus::EsmeRok, sequence, bind))
        .await;
    assert!(
        client.closed_by_server().await,
        "a plain bind on a TLS port must end the connection"
    );
    let stats = sim
        .wait_for_stats("kcell", WAIT, |s| s.tls_handshake_failures == 1)
        .await
        .unwrap();
    assert_eq!(stats.binds_total, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_client_trusting_another_ca_fails_the_handshake() {
    let dir = tempfile::tempdir().unwrap();
    let (tls, _) = make_certs(dir.path());
    let sim = tls_sim(tls).await;
    let other = new_ca("an unrelated CA").der().clone();
    let error = tls_connect(&sim, other, "localhost")
        .await
        .expect_err("the certificate must not verify");
    assert!(
        error.to_string().contains("UnknownIssuer"),
        "unexpected error: {error}"
    );
    let stats = sim
        .wait_for_stats("kcell", WAIT, |s| s.tls_handshake_failures == 1)
        .await
        .unwrap();
    assert_eq!(stats.binds_total, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn an_unreadable_certificate_stops_the_start_and_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (mut tls, _) = make_certs(dir.path());
    tls.cert_file = dir.path().join("missing.pem");
    let mut config = SimConfig::single("kcell");
    config.operators[0].tls = Some(tls.clone());
    let error = Simulator::start(config).await.expect_err("must not start");
    let text = error.to_string();
    assert!(
        text.contains("kcell") && text.contains(&tls.cert_file.display().to_string()),
        "{text}"
    );
    // a key that is not the certificate's
    let (mut tls, _) = make_certs(dir.path());
    let stranger = dir.path().join("stranger.key");
    std::fs::write(&stranger, KeyPair::generate().unwrap().serialize_pem()).unwrap();
    tls.key_file = stranger;
    let mut config = SimConfig::single("kcell");
    config.operators[0].tls = Some(tls);
    let error = Simulator::start(config).await.expect_err("must not start");
    assert!(error.to_string().contains("stranger.key"), "{error}");
}
