//! Reason labels for failed TLS handshakes, for
//! `mesh_tls_handshake_failures_total{reason}`.

use std::io;

use rustls::{CertificateError, Error};

/// Every label [`failure_reason`] returns, plus the accept loops' own
/// (`overloaded`: too many handshakes pending), exported at 0 from the start.
pub(crate) const REASONS: [&str; 16] = [
    "overloaded",
    "timeout",
    "connection_closed",
    "io",
    "no_client_cert",
    "not_tls",
    "no_alpn",
    "incompatible",
    "alert_received",
    "cert_expired",
    "cert_not_yet_valid",
    "unknown_ca",
    "bad_signature",
    "wrong_key_usage",
    "bad_cert",
    "protocol",
];

/// A short, stable label for why a handshake failed.
pub(crate) fn failure_reason(err: &io::Error) -> &'static str {
    let Some(tls) = err.get_ref().and_then(|e| e.downcast_ref::<Error>()) else {
        return match err.kind() {
            io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset => "connection_closed",
            io::ErrorKind::TimedOut => "timeout",
            _ => "io",
        };
    };
    match tls {
        Error::NoCertificatesPresented => "no_client_cert",
        Error::InvalidMessage(_) | Error::InappropriateMessage { .. } => "not_tls",
        Error::NoApplicationProtocol => "no_alpn",
        Error::PeerIncompatible(_) => "incompatible",
        Error::AlertReceived(_) => "alert_received",
        Error::InvalidCertificate(cert) => match cert {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => "cert_expired",
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "cert_not_yet_valid"
            }
            CertificateError::UnknownIssuer => "unknown_ca",
            CertificateError::BadSignature => "bad_signature",
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
                "wrong_key_usage"
            }
            _ => "bad_cert",
        },
        _ => "protocol",
    }
}
