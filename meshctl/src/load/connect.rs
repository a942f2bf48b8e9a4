//! Where the load goes and how to reach it: the gateway's public port
//! (server-authenticated TLS, trusting the mesh CA), a service's mutual-TLS
//! port (presenting the `loadgen` workload certificate and checking that
//! the server is the workload we meant), or plaintext h2c for a baseline.
//! Each yields a few HTTP/2 connections, made before the clock starts so
//! that handshakes do not land in the first requests' latency.

use std::{io, path::Path, sync::Arc, time::Duration};

use anyhow::Context as _;
use arc_swap::ArcSwap;
use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use mesh::{
    SpiffeId, TrustDomain,
    pki::PkiDir,
    tls::{MeshTls, TlsFiles},
};
use rustls::{ClientConfig, pki_types::ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::{TlsConnector, client::TlsStream};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How to open one connection.
#[derive(Debug)]
pub(crate) enum Dialer {
    /// The gateway's public port: TLS with the server's certificate
    /// checked against the mesh CA, no client certificate.
    Gateway {
        addr: String,
        name: ServerName<'static>,
        config: Arc<ClientConfig>,
    },
    /// A service's port: mutual TLS as `loadgen`, and the server must be
    /// `expected`.
    Mesh {
        addr: String,
        name: ServerName<'static>,
        tls: MeshTls,
        expected: SpiffeId,
    },
    /// h2c without TLS, for a security-off baseline.
    Plain { addr: String },
}

impl Dialer {
    /// The gateway at `url` (`https://HOST:PORT`), trusting the CA in `ca`.
    pub(crate) fn gateway(url: &str, ca: &Path) -> anyhow::Result<Self> {
        let parsed = reqwest::Url::parse(url).with_context(|| format!("--gateway {url}"))?;
        let host = parsed
            .host_str()
            .with_context(|| format!("--gateway {url}: no host"))?;
        let port = parsed.port_or_known_default().unwrap_or(443);
        let addr = format!("{host}:{port}");
        let name = mesh::client::server_name(&addr)
            .map_err(|e| anyhow::anyhow!("--gateway {url}: {e}"))?;
        let mut config = crate::client::ca_tls_config(ca)?;
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(Self::Gateway {
            addr,
            name,
            config: Arc::new(config),
        })
    }

    /// The accounts service at `addr`, as workload `loadgen` with the
    /// certificate in `certs` and the CA in `ca`.
    pub(crate) fn mesh(
        addr: &str,
        certs: &Path,
        ca: &Path,
        trust_domain: &TrustDomain,
    ) -> anyhow::Result<Self> {
        let name =
            mesh::client::server_name(addr).map_err(|e| anyhow::anyhow!("--target {addr}: {e}"))?;
        let pki = PkiDir::new(certs);
        let files = TlsFiles {
            cert: pki.cert("loadgen"),
            key: pki.key("loadgen"),
            ca: ca.to_owned(),
        };
        let tls = MeshTls::load(files, trust_domain.clone(), "loadgen").with_context(|| {
            format!(
                "the loadgen workload certificate in {} (from --data-dir) or the CA (--ca) cannot be used; `meshctl certs` creates them",
                certs.display()
            )
        })?;
        let expected = trust_domain
            .workload("accounts")
            .context("--trust-domain: no workload ID for accounts")?;
        Ok(Self::Mesh {
            addr: addr.to_owned(),
            name,
            tls,
            expected,
        })
    }

    /// h2c to `addr`.
    pub(crate) fn plain(addr: &str) -> anyhow::Result<Self> {
        mesh::client::server_name(addr).map_err(|e| anyhow::anyhow!("--target {addr}: {e}"))?;
        Ok(Self::Plain {
            addr: addr.to_owned(),
        })
    }

    /// `host:port`.
    pub(crate) fn addr(&self) -> &str {
        match self {
            Self::Gateway { addr, .. } | Self::Mesh { addr, .. } | Self::Plain { addr } => addr,
        }
    }

    /// The flag that chose the address, for error messages.
    fn flag(&self) -> &'static str {
        match self {
            Self::Gateway { .. } => "--gateway",
            Self::Mesh { .. } | Self::Plain { .. } => "--target",
        }
    }

    /// One TLS connection (gateway or mesh).
    async fn tls(&self) -> io::Result<TlsStream<TcpStream>> {
        match self {
            Self::Gateway { addr, name, config } => {
                let tcp = TcpStream::connect(addr.as_str()).await?;
                tcp.set_nodelay(true)?;
                TlsConnector::from(config.clone())
                    .connect(name.clone(), tcp)
                    .await
            }
            Self::Mesh {
                addr,
                name,
                tls,
                expected,
            } => mesh::client::connect(tls, addr, name.clone(), expected).await,
            Self::Plain { .. } => Err(io::Error::other("plaintext has no TLS")),
        }
    }

    /// One HTTP/2 connection: TLS (gateway, mesh) or h2c (plaintext).
    pub(crate) async fn h2(&self) -> anyhow::Result<Sender> {
        let dial = async {
            match self {
                Self::Plain { addr } => {
                    let tcp = TcpStream::connect(addr.as_str()).await?;
                    tcp.set_nodelay(true)?;
                    handshake(tcp).await
                }
                _ => handshake(self.tls().await?).await,
            }
        };
        tokio::time::timeout(CONNECT_TIMEOUT, dial)
            .await
            .unwrap_or_else(|_| Err(anyhow::anyhow!("timed out after {CONNECT_TIMEOUT:?}")))
            .with_context(|| format!("{} {}: cannot connect", self.flag(), self.addr()))
    }
}

/// Sends requests on one HTTP/2 connection; cloned for each request.
pub(crate) type Sender = SendRequest<Full<Bytes>>;

/// The HTTP/2 handshake on `io`.
async fn handshake<T>(io: T) -> anyhow::Result<Sender>
where
    T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (sender, connection) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .handshake(TokioIo::new(io))
        .await?;
    // The connection is driven in the background; it ends when every
    // sender is dropped or the server closes it.
    tokio::spawn(connection);
    Ok(sender)
}

/// A few HTTP/2 connections, each shared by many workers (HTTP/2
/// multiplexes) and replaced if the server closes it. No pooling layer,
/// no per-request task: a request costs a clone of its connection's sender.
#[derive(Debug)]
pub(crate) struct Connections {
    conns: Vec<Conn>,
    dialer: Arc<Dialer>,
}

#[derive(Debug)]
struct Conn {
    sender: ArcSwap<Sender>,
    /// Held while replacing a closed connection, so only one worker redials.
    redial: tokio::sync::Mutex<()>,
}

impl Connections {
    /// Opens `count` connections through `dialer`, now, before the clock starts.
    pub(crate) async fn open(dialer: Arc<Dialer>, count: usize) -> anyhow::Result<Self> {
        let mut conns = Vec::with_capacity(count);
        for _ in 0..count {
            conns.push(Conn {
                sender: ArcSwap::from_pointee(dialer.h2().await?),
                redial: tokio::sync::Mutex::new(()),
            });
        }
        Ok(Self { conns, dialer })
    }

    /// A live sender on connection `i` (modulo their number), redialing it
    /// if the server closed it; `None` if that fails.
    pub(crate) async fn sender(&self, i: usize) -> Option<Sender> {
        let conn = &self.conns[i % self.conns.len()];
        {
            let current = conn.sender.load();
            if !current.is_closed() {
                return Some(Sender::clone(&current));
            }
        }
        let _redialing = conn.redial.lock().await;
        let current = conn.sender.load_full();
        if !current.is_closed() {
            return Some((*current).clone());
        }
        let fresh = self.dialer.h2().await.ok()?;
        conn.sender.store(Arc::new(fresh.clone()));
        Some(fresh)
    }
}
