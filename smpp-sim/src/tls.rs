//! The server side of SMPP over TLS: an operator's certificate and key, loaded once at start
//! into a rustls acceptor (ring as the crypto provider, TLS 1.2 and 1.3).

use std::sync::Arc;

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::TlsConfig;
use crate::error::SimError;

/// Reads `config`'s certificate chain and key and builds the acceptor for `operator`'s port.
pub(crate) fn acceptor(operator: &str, config: &TlsConfig) -> Result<TlsAcceptor, SimError> {
    let failed = |what: String, source: Box<dyn std::error::Error + Send + Sync>| SimError::Tls {
        operator: operator.to_string(),
        what,
        source,
    };
    let cert_file = config.cert_file.display();
    let key_file = config.key_file.display();
    let certs = CertificateDer::pem_file_iter(&config.cert_file)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| failed(format!("cannot read cert_file {cert_file}"), e.into()))?;
    if certs.is_empty() {
        return Err(failed(
            format!("cert_file {cert_file}"),
            "it holds no PEM certificate".into(),
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&config.key_file)
        .map_err(|e| failed(format!("cannot read key_file {key_file}"), e.into()))?;
    let server = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| failed("setup".into(), e.into()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            failed(
                format!("cert_file {cert_file} with key_file {key_file}"),
                e.into(),
            )
        })?;
    Ok(TlsAcceptor::from(Arc::new(server)))
}
