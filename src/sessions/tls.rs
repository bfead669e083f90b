//! What to tell the user when the TLS handshake with an SMSC fails (the client settings are
//! [`crate::tls`]'s).

use rustls::CertificateError;
use std::path::Path;

/// Says why a connection's TLS handshake failed, when `error` is such a failure: rustls's
/// reason and, for the usual mistakes, what it means — a certificate from a CA that `ca_file`
/// (or, without it, the public roots) does not hold, or a port that does not speak TLS.
/// `None` for every other error.
pub fn handshake_failure(error: &rusmppc::error::Error, ca_file: Option<&Path>) -> Option<String> {
    let rusmppc::error::Error::Connect(io) = error else {
        return None;
    };
    let tls = io.get_ref()?.downcast_ref::<rustls::Error>()?;
    let hint = match tls {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => match ca_file {
            Some(ca) => format!(
                "the SMSC's certificate is not signed by a CA in ca_file {}",
                ca.display()
            ),
            None => "the SMSC's certificate is not signed by a public root CA; give the \
                     operator's CA in ca_file"
                .to_owned(),
        },
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
            "the port does not speak TLS: is it a plain SMPP port?".to_owned()
        }
        _ => return Some(format!("TLS handshake failed: {tls}")),
    };
    Some(format!("TLS handshake failed: {tls} ({hint})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connect_error(tls: rustls::Error) -> rusmppc::error::Error {
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, tls);
        rusmppc::error::Error::Connect(io)
    }

    #[test]
    fn handshake_failures_say_what_they_mean() {
        let unknown = connect_error(rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer,
        ));
        let why = handshake_failure(&unknown, Some(Path::new("/etc/khabar/ca.pem"))).unwrap();
        assert_eq!(
            why,
            "TLS handshake failed: invalid peer certificate: UnknownIssuer (the SMSC's \
             certificate is not signed by a CA in ca_file /etc/khabar/ca.pem)"
        );
        assert!(
            handshake_failure(&unknown, None)
                .unwrap()
                .contains("public root CA")
        );
        let plain = connect_error(rustls::Error::InvalidMessage(
            rustls::InvalidMessage::InvalidContentType,
        ));
        assert!(
            handshake_failure(&plain, None)
                .unwrap()
                .contains("does not speak TLS")
        );
        let other = connect_error(rustls::Error::DecryptError);
        assert_eq!(
            handshake_failure(&other, None).unwrap(),
            "TLS handshake failed: cannot decrypt peer's message"
        );
        let refused = rusmppc::error::Error::Connect(std::io::ErrorKind::ConnectionRefused.into());
        assert_eq!(handshake_failure(&refused, None), None);
    }
}
