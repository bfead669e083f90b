//! TLS client settings, shared by the SMPP binds and the cluster's database connection.

use rustls::ClientConfig;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use std::path::Path;
use std::sync::Arc;

/// A TLS client config that trusts exactly the CA certificates in `ca_file` (PEM), or the
/// public roots without one.
pub fn client_config(ca_file: Option<&Path>) -> Result<ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(ca_file) => {
            let shown = ca_file.display();
            let certs = CertificateDer::pem_file_iter(ca_file)
                .map_err(|e| format!("cannot read ca_file {shown}: {e}"))?;
            for cert in certs {
                let cert = cert.map_err(|e| format!("ca_file {shown}: {e}"))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("ca_file {shown}: {e}"))?;
            }
            if roots.is_empty() {
                return Err(format!("ca_file {shown} holds no certificate"));
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
