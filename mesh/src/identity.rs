//! Workload identity: SPIFFE IDs, the trust domain, and the verified
//! identity of a peer (`PeerId`) taken from its TLS certificate.
//!
//! A workload is named by exactly one URI SAN of the form
//! `spiffe://<trust-domain>/<name>`. The rules follow the SPIFFE ID
//! specification: lowercase trust domain, no port, user info, query or
//! fragment, and no empty, `.` or `..` path segments.

use std::{fmt, str::FromStr, sync::Arc};

use x509_parser::{certificate::X509Certificate, extensions::GeneralName, prelude::FromDer};

/// The scheme every SPIFFE ID starts with.
const SCHEME: &str = "spiffe://";

/// The trust domain of the mesh, for example `mesh.local`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TrustDomain(Arc<str>);

impl TrustDomain {
    /// The trust domain as written in SPIFFE IDs.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The SPIFFE ID of workload `name` in this trust domain.
    pub fn workload(&self, name: &str) -> Result<SpiffeId, InvalidSpiffeId> {
        format!("{SCHEME}{}/{name}", self.0).parse()
    }
}

impl FromStr for TrustDomain {
    type Err = InvalidSpiffeId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let valid = !s.is_empty()
            && s.len() <= 255
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._".contains(&b));
        if valid {
            Ok(Self(s.into()))
        } else {
            Err(InvalidSpiffeId::TrustDomain)
        }
    }
}

impl fmt::Display for TrustDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A syntactically valid SPIFFE ID.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SpiffeId {
    /// The whole ID, kept whole so logging and comparing need no allocation.
    uri: Arc<str>,
    /// Where the path starts in `uri` (the byte after the trust domain).
    path_at: usize,
}

impl SpiffeId {
    /// The trust domain part, for example `mesh.local`.
    pub fn trust_domain(&self) -> &str {
        &self.uri[SCHEME.len()..self.path_at]
    }

    /// The workload name: the path without its leading `/`, for example `orders`.
    pub fn workload(&self) -> &str {
        &self.uri[self.path_at + 1..]
    }

    /// The whole ID as a URI.
    pub fn as_str(&self) -> &str {
        &self.uri
    }
}

impl FromStr for SpiffeId {
    type Err = InvalidSpiffeId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() > 2048 {
            return Err(InvalidSpiffeId::TooLong);
        }
        let rest = s.strip_prefix(SCHEME).ok_or(InvalidSpiffeId::Scheme)?;
        let slash = rest.find('/').ok_or(InvalidSpiffeId::Path)?;
        rest[..slash].parse::<TrustDomain>()?;
        let path = &rest[slash + 1..];
        let segment_ok = |seg: &str| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
        };
        if !path.split('/').all(segment_ok) {
            return Err(InvalidSpiffeId::Path);
        }
        Ok(Self {
            uri: s.into(),
            path_at: SCHEME.len() + slash,
        })
    }
}

impl fmt::Display for SpiffeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.uri)
    }
}

/// Why a string is not a SPIFFE ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidSpiffeId {
    #[error("a SPIFFE ID starts with spiffe://")]
    Scheme,
    #[error("the trust domain may hold only lowercase letters, digits, '-', '.' and '_'")]
    TrustDomain,
    #[error("the path must be non-empty segments of letters, digits, '-', '.' and '_'")]
    Path,
    #[error("a SPIFFE ID is at most 2048 bytes")]
    TooLong,
}

/// The verified identity of the workload at the other end of a mutual-TLS
/// connection. Handlers receive it as a request extension; it exists only
/// if the certificate chained to the mesh CA and named exactly one SPIFFE
/// ID in our trust domain.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PeerId(SpiffeId);

impl PeerId {
    /// The workload that sent `request`. `UNAUTHENTICATED` when the request
    /// came without a verified workload identity.
    pub fn of<T>(request: &tonic::Request<T>) -> Result<&PeerId, tonic::Status> {
        request
            .extensions()
            .get::<PeerId>()
            .ok_or_else(|| tonic::Status::unauthenticated("no workload identity"))
    }

    /// The peer's SPIFFE ID.
    pub fn spiffe_id(&self) -> &SpiffeId {
        &self.0
    }

    /// The peer's workload name, for example `payments`.
    pub fn workload(&self) -> &str {
        self.0.workload()
    }

    /// Reads the identity from a leaf certificate that the TLS layer has
    /// already verified against the mesh CA.
    pub fn from_leaf_der(der: &[u8], trust_domain: &TrustDomain) -> Result<Self, IdentityError> {
        let (_, cert) = X509Certificate::from_der(der).map_err(|_| IdentityError::Unparsable)?;
        let is_ca = cert
            .basic_constraints()
            .map_err(|_| IdentityError::Unparsable)?
            .is_some_and(|bc| bc.value.ca);
        if is_ca {
            return Err(IdentityError::CaAsLeaf);
        }
        let sans = cert
            .subject_alternative_name()
            .map_err(|_| IdentityError::Unparsable)?;
        let mut uris = sans
            .into_iter()
            .flat_map(|ext| ext.value.general_names.iter())
            .filter_map(|name| match name {
                GeneralName::URI(uri) => Some(*uri),
                _ => None,
            });
        let uri = uris.next().ok_or(IdentityError::NoUriSan)?;
        if uris.next().is_some() {
            return Err(IdentityError::MultipleUriSans);
        }
        let id: SpiffeId = uri.parse().map_err(|_| IdentityError::NotSpiffe)?;
        if id.trust_domain() != trust_domain.as_str() {
            return Err(IdentityError::ForeignTrustDomain);
        }
        Ok(Self(id))
    }
}

impl From<SpiffeId> for PeerId {
    fn from(id: SpiffeId) -> Self {
        Self(id)
    }
}

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Why a verified certificate still does not give a workload identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("no client certificate was presented")]
    NoCertificate,
    #[error("the certificate could not be parsed")]
    Unparsable,
    #[error("the certificate is a CA certificate, not a workload certificate")]
    CaAsLeaf,
    #[error("the certificate has no URI SAN")]
    NoUriSan,
    #[error("the certificate has more than one URI SAN")]
    MultipleUriSans,
    #[error("the URI SAN is not a valid SPIFFE ID")]
    NotSpiffe,
    #[error("the SPIFFE ID belongs to another trust domain")]
    ForeignTrustDomain,
}

impl IdentityError {
    /// Every refusal, so each reason is exported at 0 from the start.
    pub const ALL: [Self; 7] = [
        Self::NoCertificate,
        Self::Unparsable,
        Self::CaAsLeaf,
        Self::NoUriSan,
        Self::MultipleUriSans,
        Self::NotSpiffe,
        Self::ForeignTrustDomain,
    ];

    /// A short, stable label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NoCertificate => "no_client_cert",
            Self::Unparsable => "unparsable_cert",
            Self::CaAsLeaf => "ca_as_leaf",
            Self::NoUriSan => "no_uri_san",
            Self::MultipleUriSans => "multiple_uri_sans",
            Self::NotSpiffe => "not_spiffe",
            Self::ForeignTrustDomain => "foreign_trust_domain",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_workload_ids() {
        let id: SpiffeId = "spiffe://mesh.local/orders".parse().expect("valid");
        assert_eq!(id.trust_domain(), "mesh.local");
        assert_eq!(id.workload(), "orders");
        let nested: SpiffeId = "spiffe://mesh.local/ns/prod/sa/orders"
            .parse()
            .expect("valid");
        assert_eq!(nested.workload(), "ns/prod/sa/orders");
    }

    #[test]
    fn rejects_malformed_ids() {
        for bad in [
            "https://mesh.local/orders",
            "spiffe://mesh.local",
            "spiffe://mesh.local/",
            "spiffe://Mesh.Local/orders",
            "spiffe://mesh.local:443/orders",
            "spiffe://user@mesh.local/orders",
            "spiffe://mesh.local/orders/",
            "spiffe://mesh.local/a//b",
            "spiffe://mesh.local/../etc",
            "spiffe://mesh.local/orders?x=1",
            "spiffe://mesh.local/orders#frag",
            "spiffe:///orders",
        ] {
            assert!(bad.parse::<SpiffeId>().is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn trust_domain_builds_ids() {
        let td: TrustDomain = "mesh.local".parse().expect("valid");
        assert_eq!(
            td.workload("payments").expect("valid").as_str(),
            "spiffe://mesh.local/payments"
        );
        assert!("MESH".parse::<TrustDomain>().is_err());
        assert!("".parse::<TrustDomain>().is_err());
    }
}
