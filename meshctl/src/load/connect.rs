//! Where the load goes and how to reach it: the gateway's public port
//! (server-authenticated TLS, trusting the mesh CA), a service's mutual-TLS
//! port (presenting the `loadgen` workload certificate and checking that
//! the server is the workload we meant), or plaintext h2c for a baseline.
//! Each yields a few HTTP/2 connections, made before the clock starts so
//! that handshakes do not land in the first requests' latency.

use std::{io, path::Path, sync::Arc, time::Duration};

use anyhow::Context as _;
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
use tokio::net::TcpStream;
use tokio_rustls::{TlsConnector, client::TlsStream};
use tonic::transport::{Channel, Endpoint, Uri};

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

    /// `count` gRPC channels, each its own HTTP/2 connection, connected now.
    pub(crate) async fn channels(
        self: &Arc<Self>,
        count: usize,
        in_flight: usize,
    ) -> anyhow::Result<Vec<Channel>> {
        let endpoint = Endpoint::from_shared(format!("http://{}", self.addr()))
            .with_context(|| format!("{} {}: not a host:port", self.flag(), self.addr()))?
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true)
            // Room for every request the run may have in flight.
            .buffer_size(in_flight.max(1024));
        let mut channels = Vec::with_capacity(count);
        for _ in 0..count {
            let connected = match **self {
                Self::Plain { .. } => endpoint.connect().await,
                _ => {
                    let dialer = self.clone();
                    let connector = tower::service_fn(move |_: Uri| {
                        let dialer = dialer.clone();
                        async move { dialer.tls().await.map(TokioIo::new) }
                    });
                    endpoint.connect_with_connector(connector).await
                }
            };
            let channel = connected.map_err(|e| {
                anyhow::Error::new(e).context(format!(
                    "{} {}: cannot connect",
                    self.flag(),
                    self.addr()
                ))
            })?;
            channels.push(channel);
        }
        Ok(channels)
    }

    /// One HTTP/2 connection for REST calls (gateway only).
    pub(crate) async fn h2(&self) -> anyhow::Result<SendRequest<Full<Bytes>>> {
        let cannot = || format!("{} {}: cannot connect", self.flag(), self.addr());
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, self.tls())
            .await
            .map_err(|_| anyhow::anyhow!("timed out after {CONNECT_TIMEOUT:?}"))
            .and_then(|r| r.map_err(anyhow::Error::from))
            .with_context(cannot)?;
        let (sender, connection) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .handshake(TokioIo::new(stream))
            .await
            .with_context(cannot)?;
        // The connection is driven in the background; it ends when every
        // sender is dropped or the server closes it.
        tokio::spawn(connection);
        Ok(sender)
    }
}
