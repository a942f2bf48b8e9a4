//! Test utilities (feature `testing`): a throw-away PKI in a temporary
//! directory, server arguments on port 0, a server running in the
//! background, and raw clients that present any certificate at all, so
//! tests can play the attacker.

use std::{
    future::Future,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use hyper_util::rt::TokioIo;
use rustls::{
    ClientConfig, RootCertStore,
    pki_types::{CertificateDer, PrivateKeyDer, ServerName, pem::PemObject},
};
use tempfile::TempDir;
use tokio::{io::AsyncReadExt, io::AsyncWriteExt, net::TcpStream, sync::oneshot, task::JoinHandle};
use tokio_rustls::{TlsConnector, client::TlsStream};
use tonic::transport::{Channel, Endpoint, Uri};

mod issuer;
mod keys;
mod service;

pub use issuer::{TEST_ISSUER, TestIssuer, unverified_claims};
pub use keys::{KeyServer, start_key_server};
pub use service::{Authed, Bearer, spawn_service};

use crate::{
    Grpc, Server,
    config::{JwtArgs, Limits, LogFormat, ServerArgs, TlsArgs},
    identity::TrustDomain,
    pki::{CertAuthority, IssuedCert, LeafSpec, PkiDir, WORKLOADS},
    server::ServeError,
    tls::{MeshTls, TlsFiles, provider},
};

/// A CA and a certificate for every workload, in a temporary directory
/// removed on drop.
pub struct TestPki {
    dir: TempDir,
    pki: PkiDir,
    ca: CertAuthority,
    trust_domain: TrustDomain,
}

impl std::fmt::Debug for TestPki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestPki")
            .field("dir", &self.dir.path())
            .finish()
    }
}

impl Default for TestPki {
    fn default() -> Self {
        Self::new()
    }
}

impl TestPki {
    /// A fresh PKI for trust domain `mesh.local`.
    pub fn new() -> Self {
        let trust_domain: TrustDomain = "mesh.local".parse().expect("valid trust domain");
        let dir = tempfile::tempdir().expect("create temp dir");
        let pki = PkiDir::new(dir.path());
        let ca =
            CertAuthority::generate(&trust_domain, Duration::from_secs(3600)).expect("generate CA");
        pki.write_ca(&ca, false).expect("write CA");
        for name in WORKLOADS {
            let spec =
                LeafSpec::workload(&trust_domain, name, Duration::from_secs(3600)).expect("spec");
            pki.write_workload(name, &ca.issue(&spec).expect("issue"), false)
                .expect("write workload cert");
        }
        Self {
            dir,
            pki,
            ca,
            trust_domain,
        }
    }

    /// The PKI directory.
    pub fn dir(&self) -> &PkiDir {
        &self.pki
    }

    /// The CA, to issue more certificates.
    pub fn ca(&self) -> &CertAuthority {
        &self.ca
    }

    /// `mesh.local`.
    pub fn trust_domain(&self) -> &TrustDomain {
        &self.trust_domain
    }

    /// The standard certificate spec of `workload`.
    pub fn spec(&self, workload: &str) -> LeafSpec {
        LeafSpec::workload(&self.trust_domain, workload, Duration::from_secs(3600)).expect("spec")
    }

    /// The files of `workload`.
    pub fn files(&self, workload: &str) -> TlsFiles {
        TlsFiles {
            cert: self.pki.cert(workload),
            key: self.pki.key(workload),
            ca: self.pki.ca_cert(),
        }
    }

    /// Writes `cert` under `label` and returns its files (with this PKI's CA).
    pub fn write(&self, label: &str, cert: &IssuedCert) -> TlsFiles {
        self.pki
            .write_workload(label, cert, true)
            .expect("write cert");
        self.files(label)
    }

    /// `workload`'s live TLS state.
    pub fn tls(&self, workload: &str) -> MeshTls {
        MeshTls::load(self.files(workload), self.trust_domain.clone(), workload).expect("load TLS")
    }

    /// Server arguments for `workload`: both ports on 127.0.0.1:0, this
    /// PKI's files, default limits.
    pub fn server_args(&self, workload: &str) -> ServerArgs {
        let files = self.files(workload);
        ServerArgs {
            listen: Some(([127, 0, 0, 1], 0).into()),
            admin_listen: Some(([127, 0, 0, 1], 0).into()),
            tls: TlsArgs {
                certs_dir: self.pki.path().to_owned(),
                cert: Some(files.cert),
                key: Some(files.key),
                ca: Some(files.ca),
                trust_domain: self.trust_domain.clone(),
                tls_reload_interval: Duration::from_secs(3600),
            },
            limits: Limits::default(),
            jwt: JwtArgs::default(),
            load_test_peers: Vec::new(),
            log_format: LogFormat::Text,
        }
    }
}

/// The SQLite database `file` in `dir` as an earlier release left it:
/// `migrator` applied up to `version` only, then `rows` (SQL) run. The
/// workload that opens it next applies the newer migrations to that data.
pub async fn sqlite_at_version(
    dir: &Path,
    file: &str,
    migrator: &sqlx::migrate::Migrator,
    version: i64,
    rows: &'static str,
) {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .expect("data directory");
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(dir.join(file))
        .create_if_missing(true)
        .foreign_keys(true);
    let pool = sqlx::SqlitePool::connect_with(options)
        .await
        .expect("open the database");
    migrator
        .run_to(version, &pool)
        .await
        .expect("the older migrations");
    sqlx::raw_sql(rows)
        .execute(&pool)
        .await
        .expect("the older rows");
    pool.close().await;
}

/// A server serving in a background task.
#[derive(Debug)]
pub struct Running {
    /// The mutual-TLS gRPC address.
    pub grpc_addr: SocketAddr,
    /// The admin HTTP address.
    pub admin_addr: SocketAddr,
    /// The server's live TLS state (rotate it in tests).
    pub tls: MeshTls,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServeError>>,
}

impl Running {
    /// Serves `grpc` on `server` in the background.
    pub fn spawn(server: Server, grpc: Grpc) -> Self {
        let (stop, stopped) = oneshot::channel::<()>();
        let (grpc_addr, admin_addr, tls) = (
            server.grpc_addr(),
            server.admin_addr(),
            server.tls().clone(),
        );
        let task = tokio::spawn(server.serve(grpc, async {
            let _ = stopped.await;
        }));
        Self {
            grpc_addr,
            admin_addr,
            tls,
            stop: Some(stop),
            task,
        }
    }

    /// Stops the server and waits until it has drained.
    pub async fn stop(mut self) -> Result<(), ServeError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.expect("server task panicked")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.stop.is_some() {
            self.task.abort();
        }
    }
}

/// Which certificate a raw test client presents.
#[derive(Debug, Clone)]
pub enum ClientCert {
    /// None at all.
    None,
    /// The certificate and key in these files.
    Files { cert: PathBuf, key: PathBuf },
}

impl From<&TlsFiles> for ClientCert {
    fn from(files: &TlsFiles) -> Self {
        Self::Files {
            cert: files.cert.clone(),
            key: files.key.clone(),
        }
    }
}

/// A rustls client config trusting `ca` and presenting `cert`, with ALPN
/// `h2`, built without any of the checks the kit applies to its own files.
pub fn raw_client_config(cert: &ClientCert, ca: &Path) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca).expect("read CA") {
        roots.add(c.expect("CA PEM")).expect("add CA");
    }
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots);
    let mut config = match cert {
        ClientCert::None => builder.with_no_client_auth(),
        ClientCert::Files { cert, key } => {
            let chain = CertificateDer::pem_file_iter(cert)
                .expect("read cert")
                .collect::<Result<Vec<_>, _>>()
                .expect("cert PEM");
            let key = PrivateKeyDer::from_pem_file(key).expect("read key");
            builder
                .with_client_auth_cert(chain, key)
                .expect("client auth cert")
        }
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    Arc::new(config)
}

/// Opens a TLS connection to `addr` as `localhost`.
pub async fn tls_connect(
    config: Arc<ClientConfig>,
    addr: SocketAddr,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let name = ServerName::try_from("localhost").expect("valid name");
    TlsConnector::from(config).connect(name, tcp).await
}

/// A gRPC channel to `addr` presenting `cert` (or none), trusting `ca`.
/// Connects lazily: with TLS 1.3 a refused client certificate shows up on
/// the first call, not at connect, so tests assert on calls.
pub fn raw_channel(cert: &ClientCert, ca: &Path, addr: SocketAddr) -> Channel {
    let config = raw_client_config(cert, ca);
    let connector = tower::service_fn(move |_: Uri| {
        let config = config.clone();
        async move { tls_connect(config, addr).await.map(TokioIo::new) }
    });
    Endpoint::from_shared(format!("http://{addr}"))
        .expect("valid URI")
        .connect_with_connector_lazy(connector)
}

/// A plaintext (h2c) gRPC channel to `addr`, for checking TLS is required.
pub fn plaintext_channel(addr: SocketAddr) -> Channel {
    Endpoint::from_shared(format!("http://{addr}"))
        .expect("valid URI")
        .connect_lazy()
}

/// GETs `path` from an HTTP/1 server (the admin port) and returns status and body.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut tcp = TcpStream::connect(addr).await.expect("connect admin port");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    tcp.write_all(request.as_bytes())
        .await
        .expect("write request");
    let mut response = String::new();
    tcp.read_to_string(&mut response)
        .await
        .expect("read response");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("HTTP status line");
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// The value of the series `name{labels}` in OpenMetrics `text`, where
/// `labels` is a substring of its label set such as `reason="timeout"`.
pub fn metric(text: &str, name: &str, labels: &str) -> f64 {
    text.lines()
        .filter(|line| {
            line.starts_with(name) && line[name.len()..].starts_with('{') && line.contains(labels)
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Polls `check` until it returns `Some`, for at most `limit`. For effects
/// that happen just after the event a test can observe (a counter bumped
/// after the connection closed), never for readiness.
pub async fn eventually<T, F, Fut>(limit: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A response read by [`https_request`].
#[derive(Debug, Clone)]
pub struct HttpReply {
    /// Status code.
    pub status: u16,
    /// Header lines, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The body (`Content-Length` or to the end of the connection).
    pub body: String,
}

impl HttpReply {
    /// The first value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// One HTTP/1.1 request over TLS (no client certificate), trusting `ca`:
/// `request` is everything before the body, for example
/// `"POST /v1/orders HTTP/1.1\r\nAuthorization: Bearer …\r\n"`; `Host`,
/// `Content-Length` and `Connection: close` are added.
pub async fn https_request(addr: SocketAddr, ca: &Path, request: &str, body: &[u8]) -> HttpReply {
    https_request_from(None, addr, ca, request, body).await
}

/// [`https_request`] from the local address `from` (any loopback address,
/// 127.0.0.2 say, to play a second client machine), or the default.
pub async fn https_request_from(
    from: Option<std::net::IpAddr>,
    addr: SocketAddr,
    ca: &Path,
    request: &str,
    body: &[u8],
) -> HttpReply {
    let mut config = (*raw_client_config(&ClientCert::None, ca)).clone();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = match from {
        Some(ip) => {
            let socket = if ip.is_ipv4() {
                tokio::net::TcpSocket::new_v4()
            } else {
                tokio::net::TcpSocket::new_v6()
            }
            .expect("socket");
            socket
                .bind(SocketAddr::new(ip, 0))
                .expect("bind the source address");
            socket.connect(addr).await.expect("connect")
        }
        None => TcpStream::connect(addr).await.expect("connect"),
    };
    let name = ServerName::try_from("localhost").expect("valid name");
    let mut tls = TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .expect("TLS connect");
    let head = format!(
        "{}Host: localhost\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        request,
        body.len()
    );
    tls.write_all(head.as_bytes()).await.expect("write head");
    tls.write_all(body).await.expect("write body");
    // TLS buffers records: without a flush the tail of the request may
    // never leave this process.
    tls.flush().await.expect("flush request");
    let mut raw = Vec::new();
    // A server may close without close_notify after answering.
    let _ = tls.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status line in {text:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    HttpReply {
        status,
        headers,
        body: body.to_owned(),
    }
}
