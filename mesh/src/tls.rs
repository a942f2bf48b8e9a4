//! Mutual TLS for workloads: load a workload's certificate, key and the mesh
//! CA bundle, build the rustls configs every port and every outgoing channel
//! use, and pick up rotated files without a restart.
//!
//! Mesh-internal traffic is TLS 1.3 only, and every server requires a client
//! certificate from the mesh CA. The identity in that certificate is read
//! once per connection (see [`crate::server`]) and handed to handlers as a
//! [`crate::PeerId`].

mod handshake;
mod material;
mod private;
mod reload;

use std::{path::PathBuf, sync::Arc};

use arc_swap::ArcSwap;
use rustls::crypto::CryptoProvider;

use crate::identity::{SpiffeId, TrustDomain};

pub(crate) use handshake::{REASONS as HANDSHAKE_FAILURES, failure_reason};
pub(crate) use material::Material;
pub use material::{TlsError, load_roots};
pub use private::{OpenKeyFile, check_key_file};
pub(crate) use reload::spawn_reloader;

/// The one crypto backend of the workspace (aws-lc-rs).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Installs [`provider`] as the process default, for libraries that ask
/// rustls for one. Safe to call more than once.
pub fn install_default_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// The three files a workload's mutual TLS is made of.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The workload's certificate chain, leaf first (`--cert`).
    pub cert: PathBuf,
    /// The workload's PKCS#8, PKCS#1 or SEC1 private key (`--key`).
    pub key: PathBuf,
    /// The mesh CA bundle that peers must chain to (`--ca`).
    pub ca: PathBuf,
}

/// A workload's live TLS state: the current certificate, key and trust
/// bundle, swapped atomically when the files change. Cheap to clone.
#[derive(Clone)]
pub struct MeshTls {
    inner: Arc<Inner>,
}

struct Inner {
    files: TlsFiles,
    trust_domain: TrustDomain,
    /// The workload the certificate must name; a rotated file naming
    /// another workload is refused rather than silently changing who we are.
    workload: String,
    current: ArcSwap<Material>,
}

impl std::fmt::Debug for MeshTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeshTls")
            .field("files", &self.inner.files)
            .field("identity", &self.identity().as_str())
            .finish()
    }
}

impl MeshTls {
    /// Loads and checks `files` for `workload`: the key matches the
    /// certificate, the certificate is currently valid under the CA, and it
    /// names exactly `spiffe://<trust_domain>/<workload>`.
    pub fn load(
        files: TlsFiles,
        trust_domain: TrustDomain,
        workload: &str,
    ) -> Result<Self, TlsError> {
        let material = Material::load(&files, &trust_domain, workload)?;
        Ok(Self {
            inner: Arc::new(Inner {
                files,
                trust_domain,
                workload: workload.to_owned(),
                current: ArcSwap::from_pointee(material),
            }),
        })
    }

    /// Re-reads the files if they changed since the last load. Returns
    /// whether new material is now in use; on error the old one stays.
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        let current = self.current();
        if !current.changed_on_disk(&self.inner.files) {
            return Ok(false);
        }
        let material = Material::load(
            &self.inner.files,
            &self.inner.trust_domain,
            &self.inner.workload,
        )?;
        self.inner.current.store(Arc::new(material));
        Ok(true)
    }

    pub(crate) fn current(&self) -> Arc<Material> {
        self.inner.current.load_full()
    }

    /// The server config for the next accepted connection.
    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        self.inner.current.load().server.clone()
    }

    /// The server config for a public port (client certificate optional).
    pub fn public_server_config(&self) -> Arc<rustls::ServerConfig> {
        self.inner.current.load().public.clone()
    }

    /// The client config for the next outgoing connection.
    pub fn client_config(&self) -> Arc<rustls::ClientConfig> {
        self.inner.current.load().client.clone()
    }

    /// The trust domain peers must belong to.
    pub fn trust_domain(&self) -> &TrustDomain {
        &self.inner.trust_domain
    }

    /// This workload's own SPIFFE ID.
    pub fn identity(&self) -> SpiffeId {
        self.inner.current.load().identity.clone()
    }

    /// When the current certificate expires, in seconds since the epoch.
    pub fn not_after(&self) -> i64 {
        self.inner.current.load().not_after
    }

    /// When the current certificate became valid, in seconds since the epoch.
    pub fn not_before(&self) -> i64 {
        self.inner.current.load().not_before
    }
}
