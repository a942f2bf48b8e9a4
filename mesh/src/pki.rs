//! Development PKI: a mesh certificate authority and workload certificates
//! carrying SPIFFE IDs. `meshctl certs` and the tests use it; production
//! deployments bring certificates from their own CA (SPIRE, cert-manager).
//!
//! Every workload certificate has one URI SAN (its SPIFFE ID), DNS SANs for
//! its host names and `localhost`, and IP SAN `127.0.0.1`, so the same file
//! works on loopback and in docker-compose. It is valid for both server and
//! client authentication, because every workload is both.

use std::{
    fs,
    io::{self, Write},
    net::{IpAddr, Ipv4Addr},
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
    time::Duration,
};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, SanType,
};
use time::OffsetDateTime;

use crate::identity::TrustDomain;

/// The workloads of the reference mesh, each with a certificate.
pub const WORKLOADS: &[&str] = &[
    "auth", "gateway", "orders", "payments", "accounts", "loadgen",
];

/// A certificate authority able to issue workload certificates.
pub struct CertAuthority {
    issuer: Issuer<'static, KeyPair>,
    cert_pem: String,
    key_pem: String,
}

impl std::fmt::Debug for CertAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertAuthority").finish_non_exhaustive()
    }
}

impl CertAuthority {
    /// A fresh self-signed CA for `trust_domain`, valid for `validity`.
    pub fn generate(trust_domain: &TrustDomain, validity: Duration) -> Result<Self, PkiError> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, format!("{trust_domain} development CA"));
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::minutes(5);
        params.not_after = now + validity;
        let cert = params.self_signed(&key)?;
        Ok(Self {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// Loads an existing CA from its PEM certificate and PKCS#8 key.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, PkiError> {
        let key = KeyPair::from_pem(key_pem)?;
        let issuer = Issuer::from_ca_cert_pem(cert_pem, key)?;
        Ok(Self {
            issuer,
            cert_pem: cert_pem.to_owned(),
            key_pem: key_pem.to_owned(),
        })
    }

    /// The CA certificate, the trust bundle every workload loads.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA private key. Whoever holds it can mint any identity.
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// Issues a certificate for `spec`, with a new P-256 key.
    pub fn issue(&self, spec: &LeafSpec) -> Result<IssuedCert, PkiError> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let cert = spec.params()?.signed_by(&key, &self.issuer)?;
        Ok(IssuedCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// What goes into one issued certificate. `LeafSpec::workload` gives the
/// standard one; the fields are public so tests can build bad variants.
#[derive(Debug, Clone)]
pub struct LeafSpec {
    /// Subject common name (informational; identity is in the URI SAN).
    pub common_name: String,
    /// URI SANs. A valid workload certificate has exactly one.
    pub uris: Vec<String>,
    /// DNS SANs.
    pub dns_names: Vec<String>,
    /// IP SANs.
    pub ips: Vec<IpAddr>,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
    /// Marks the certificate as a CA (a misuse the mesh must refuse).
    pub is_ca: bool,
}

impl LeafSpec {
    /// The certificate of workload `name`: its SPIFFE ID, DNS names `name`
    /// and `localhost`, IP `127.0.0.1`, valid from a minute ago for `validity`.
    pub fn workload(
        trust_domain: &TrustDomain,
        name: &str,
        validity: Duration,
    ) -> Result<Self, PkiError> {
        let id = trust_domain
            .workload(name)
            .map_err(|e| PkiError::Name(format!("{name}: {e}")))?;
        let now = OffsetDateTime::now_utc();
        Ok(Self {
            common_name: name.to_owned(),
            uris: vec![id.to_string()],
            dns_names: vec![name.to_owned(), "localhost".to_owned()],
            ips: vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
            not_before: now - time::Duration::minutes(1),
            not_after: now + validity,
            is_ca: false,
        })
    }

    fn params(&self) -> Result<CertificateParams, PkiError> {
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, self.common_name.clone());
        let ia5 = |s: &String| s.clone().try_into().map_err(|_| PkiError::Name(s.clone()));
        for uri in &self.uris {
            params.subject_alt_names.push(SanType::URI(ia5(uri)?));
        }
        for dns in &self.dns_names {
            params.subject_alt_names.push(SanType::DnsName(ia5(dns)?));
        }
        for ip in &self.ips {
            params.subject_alt_names.push(SanType::IpAddress(*ip));
        }
        params.not_before = self.not_before;
        params.not_after = self.not_after;
        if self.is_ca {
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.key_usages = vec![
                KeyUsagePurpose::KeyCertSign,
                KeyUsagePurpose::DigitalSignature,
            ];
        } else {
            params.is_ca = IsCa::ExplicitNoCa;
            params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            params.extended_key_usages = vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ];
        }
        params.use_authority_key_identifier_extension = true;
        Ok(params)
    }

    /// A self-signed certificate from this spec (trusted by nobody).
    pub fn self_signed(&self) -> Result<IssuedCert, PkiError> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let cert = self.params()?.self_signed(&key)?;
        Ok(IssuedCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// A certificate and its private key, PEM encoded.
#[derive(Clone)]
pub struct IssuedCert {
    /// The certificate.
    pub cert_pem: String,
    /// The PKCS#8 private key. Written only with mode 0600.
    pub key_pem: String,
}

impl std::fmt::Debug for IssuedCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedCert")
            .field("key_pem", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// Where the files of a PKI directory live.
#[derive(Debug, Clone)]
pub struct PkiDir(PathBuf);

impl PkiDir {
    /// The PKI kept in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self(dir.into())
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The CA certificate (the trust bundle).
    pub fn ca_cert(&self) -> PathBuf {
        self.0.join("ca.pem")
    }

    /// The CA private key.
    pub fn ca_key(&self) -> PathBuf {
        self.0.join("ca-key.pem")
    }

    /// The certificate of workload `name`.
    pub fn cert(&self, name: &str) -> PathBuf {
        self.0.join(format!("{name}.pem"))
    }

    /// The private key of workload `name`.
    pub fn key(&self, name: &str) -> PathBuf {
        self.0.join(format!("{name}-key.pem"))
    }

    /// Writes the CA, refusing to replace an existing key unless `force`.
    pub fn write_ca(&self, ca: &CertAuthority, force: bool) -> Result<(), PkiError> {
        fs::create_dir_all(&self.0).map_err(|e| PkiError::io(&self.0, e))?;
        write_file(&self.ca_key(), ca.key_pem(), 0o600, force)?;
        write_file(&self.ca_cert(), ca.cert_pem(), 0o644, true)
    }

    /// Writes workload `name`'s certificate and key, refusing to replace an
    /// existing key unless `force`.
    pub fn write_workload(
        &self,
        name: &str,
        issued: &IssuedCert,
        force: bool,
    ) -> Result<(), PkiError> {
        fs::create_dir_all(&self.0).map_err(|e| PkiError::io(&self.0, e))?;
        write_file(&self.key(name), &issued.key_pem, 0o600, force)?;
        write_file(&self.cert(name), &issued.cert_pem, 0o644, true)
    }

    /// When workload `name`'s certificate expires (Unix seconds), or `None`
    /// when it is missing or unreadable (either way it must be issued).
    pub fn not_after(&self, name: &str) -> Option<i64> {
        let pem = fs::read(self.cert(name)).ok()?;
        let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).ok()?;
        let cert = pem.parse_x509().ok()?;
        Some(cert.validity().not_after.timestamp())
    }

    /// Loads the CA kept here.
    pub fn load_ca(&self) -> Result<CertAuthority, PkiError> {
        let read = |p: PathBuf| fs::read_to_string(&p).map_err(|e| PkiError::io(&p, e));
        let key = self.ca_key();
        crate::tls::check_key_file(&key)
            .map_err(|e| PkiError::io(&key, e))?
            .map_err(PkiError::OpenKey)?;
        CertAuthority::from_pem(&read(self.ca_cert())?, &read(key)?)
    }
}

/// Writes `contents` to `path` with `mode`, through a temporary file and a
/// rename so a reader never sees half a key. `overwrite: false` refuses an
/// existing file.
fn write_file(path: &Path, contents: &str, mode: u32, overwrite: bool) -> Result<(), PkiError> {
    if !overwrite && path.exists() {
        return Err(PkiError::Exists(path.to_owned()));
    }
    let tmp = path.with_extension("pem.tmp");
    let result = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        file.write_all(contents.as_bytes())?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        PkiError::io(path, e)
    })
}

/// What can go wrong creating or storing certificates.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("invalid name in certificate: {0}")]
    Name(String),
    #[error("{0} already exists; pass --force to replace it")]
    Exists(PathBuf),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("the CA key {0}")]
    OpenKey(crate::tls::OpenKeyFile),
}

impl PkiError {
    fn io(path: &Path, source: io::Error) -> Self {
        Self::Io {
            path: path.to_owned(),
            source,
        }
    }
}
