//! Reading and checking a workload's TLS files, and building the rustls
//! server and client configs from them.

use std::{
    fs, io,
    path::{Path, PathBuf},
    sync::Arc,
    time::SystemTime,
};

use rustls::{
    ClientConfig, RootCertStore, ServerConfig,
    crypto::CryptoProvider,
    pki_types::{CertificateDer, PrivateKeyDer, UnixTime, pem::PemObject},
    server::WebPkiClientVerifier,
    sign::CertifiedKey,
    version::TLS13,
};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::{TlsFiles, provider};
use crate::identity::{IdentityError, PeerId, SpiffeId, TrustDomain};

/// ALPN for gRPC: HTTP/2 only.
const ALPN_H2: &[u8] = b"h2";

/// One consistent set of certificate, key and trust bundle, with the
/// configs built from it.
pub(crate) struct Material {
    pub(crate) server: Arc<ServerConfig>,
    /// For ports that outsiders reach (OAuth endpoints, the gateway): TLS
    /// 1.2 and 1.3, HTTP/2 and HTTP/1.1, a client certificate optional but
    /// verified against the mesh CA when one is sent.
    pub(crate) public: Arc<ServerConfig>,
    pub(crate) client: Arc<ClientConfig>,
    pub(crate) identity: SpiffeId,
    /// Seconds since the epoch.
    pub(crate) not_after: i64,
    /// Seconds since the epoch: with `not_after`, the certificate's lifetime.
    pub(crate) not_before: i64,
    /// Modification stamps of the files this was read from.
    stamps: [Option<(SystemTime, u64)>; 3],
}

impl Material {
    pub(crate) fn load(
        files: &TlsFiles,
        trust_domain: &TrustDomain,
        workload: &str,
    ) -> Result<Self, TlsError> {
        // Stamps first: a file replaced while we read it shows as changed next time.
        let stamps = stamps(files);
        let provider = provider();
        let chain = read_certs("--cert", &files.cert)?;
        let key = read_key(&files.key)?;
        let roots = Arc::new(load_roots(&files.ca)?);

        let certified =
            CertifiedKey::from_der(chain.clone(), key.clone_key(), &provider).map_err(|e| {
                TlsError::KeyMismatch {
                    cert: files.cert.clone(),
                    key: files.key.clone(),
                    detail: e.to_string(),
                }
            })?;
        drop(certified);

        let client_verifier =
            WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
                .build()
                .map_err(|e| TlsError::Pem {
                    flag: "--ca",
                    path: files.ca.clone(),
                    detail: e.to_string(),
                })?;
        // Our own certificate must pass the check every peer will apply to it.
        client_verifier
            .verify_client_cert(&chain[0], &chain[1..], UnixTime::now())
            .map_err(|e| TlsError::NotTrusted {
                cert: files.cert.clone(),
                ca: files.ca.clone(),
                detail: e.to_string(),
            })?;
        let identity = PeerId::from_leaf_der(&chain[0], trust_domain).map_err(|source| {
            TlsError::Identity {
                path: files.cert.clone(),
                source,
            }
        })?;
        if identity.workload() != workload {
            return Err(TlsError::WrongWorkload {
                path: files.cert.clone(),
                found: identity.to_string(),
                expected: workload.to_owned(),
            });
        }
        let (not_before, not_after) = validity(&chain[0]);

        let optional_verifier =
            WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
                .allow_unauthenticated()
                .build()
                .map_err(|e| TlsError::Pem {
                    flag: "--ca",
                    path: files.ca.clone(),
                    detail: e.to_string(),
                })?;
        let mut public = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Config)?
            .with_client_cert_verifier(optional_verifier)
            .with_single_cert(chain.clone(), key.clone_key())
            .map_err(TlsError::Config)?;
        public.alpn_protocols = vec![ALPN_H2.to_vec(), b"http/1.1".to_vec()];

        let mut server = server_builder(&provider)?
            .with_client_cert_verifier(client_verifier)
            .with_single_cert(chain.clone(), key.clone_key())
            .map_err(TlsError::Config)?;
        server.alpn_protocols = vec![ALPN_H2.to_vec()];

        let mut client = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&TLS13])
            .map_err(TlsError::Config)?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(TlsError::Config)?;
        client.alpn_protocols = vec![ALPN_H2.to_vec()];

        Ok(Self {
            server: Arc::new(server),
            public: Arc::new(public),
            client: Arc::new(client),
            identity: identity.spiffe_id().clone(),
            not_after,
            not_before,
            stamps,
        })
    }

    pub(crate) fn changed_on_disk(&self, files: &TlsFiles) -> bool {
        stamps(files) != self.stamps
    }
}

fn server_builder(
    provider: &Arc<CryptoProvider>,
) -> Result<rustls::ConfigBuilder<ServerConfig, rustls::WantsVerifier>, TlsError> {
    ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&TLS13])
        .map_err(TlsError::Config)
}

fn stamps(files: &TlsFiles) -> [Option<(SystemTime, u64)>; 3] {
    [&files.cert, &files.key, &files.ca].map(|p| {
        let meta = fs::metadata(p).ok()?;
        Some((meta.modified().ok()?, meta.len()))
    })
}

fn read_certs(flag: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = fs::read(path).map_err(|source| TlsError::Read {
        flag,
        path: path.to_owned(),
        source,
    })?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            flag,
            path: path.to_owned(),
            detail: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            flag,
            path: path.to_owned(),
            detail: "no PEM \"CERTIFICATE\" block found".to_owned(),
        });
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let unreadable = |source| TlsError::Read {
        flag: "--key",
        path: path.to_owned(),
        source,
    };
    let bytes = fs::read(path).map_err(unreadable)?;
    // Checked once the file proved readable, so a wrong path is named as such.
    super::check_key_file(path)
        .map_err(unreadable)?
        .map_err(TlsError::OpenKey)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| TlsError::Pem {
        flag: "--key",
        path: path.to_owned(),
        detail: format!("no usable PEM private key: {e}"),
    })
}

/// The trust anchors in the PEM file `path` (`--ca`): every certificate in it.
pub fn load_roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in read_certs("--ca", path)? {
        roots.add(cert).map_err(|e| TlsError::Pem {
            flag: "--ca",
            path: path.to_owned(),
            detail: format!("not a usable CA certificate: {e}"),
        })?;
    }
    Ok(roots)
}

/// Not-before and not-after, in seconds since the epoch (0 if unreadable).
fn validity(der: &CertificateDer<'_>) -> (i64, i64) {
    X509Certificate::from_der(der)
        .map(|(_, cert)| {
            let validity = cert.validity();
            (
                validity.not_before.timestamp(),
                validity.not_after.timestamp(),
            )
        })
        .unwrap_or((0, 0))
}

/// Why a workload's TLS files cannot be used. Each message names the flag
/// or file at fault.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{flag} {path}: cannot read: {source}")]
    Read {
        flag: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("{flag} {path}: {detail}")]
    Pem {
        flag: &'static str,
        path: PathBuf,
        detail: String,
    },
    #[error("--key {key} does not belong to the certificate in --cert {cert}: {detail}")]
    KeyMismatch {
        cert: PathBuf,
        key: PathBuf,
        detail: String,
    },
    #[error("--cert {cert} is not valid under the CA in --ca {ca}: {detail}")]
    NotTrusted {
        cert: PathBuf,
        ca: PathBuf,
        detail: String,
    },
    #[error("--cert {path} has no usable workload identity: {source}")]
    Identity {
        path: PathBuf,
        source: IdentityError,
    },
    #[error("--cert {path} is the identity {found}, but this process is workload '{expected}'")]
    WrongWorkload {
        path: PathBuf,
        found: String,
        expected: String,
    },
    #[error("--key {0}")]
    OpenKey(super::OpenKeyFile),
    #[error("TLS configuration rejected: {0}")]
    Config(rustls::Error),
}

impl From<TlsError> for io::Error {
    fn from(e: TlsError) -> Self {
        io::Error::other(e)
    }
}
