//! Outgoing mutual-TLS channels to a named upstream workload.
//!
//! The connector presents this workload's certificate, verifies the
//! server's chain and host name against the mesh CA, and then checks that
//! the server is the workload we meant to call: its SPIFFE ID must be the
//! expected one, so a stolen certificate of another workload cannot stand
//! in for it. One HTTP/2 connection is a throughput ceiling, so an
//! [`Upstream`] keeps a few and spreads calls across them.

use std::{
    future::Future,
    io,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tonic::transport::{Channel, Endpoint, Uri};

use crate::{identity::SpiffeId, tls::MeshTls};

mod connect;
mod propagate;
mod traced;

pub use connect::{connect, server_name};
pub use propagate::{Exchanger, MeshChannel, TokenMode};
pub use traced::ClientBody;

/// Connections kept per upstream.
const POOL_SIZE: usize = 4;

/// A small pool of lazily connected channels to one upstream workload.
#[derive(Debug, Clone)]
pub struct Upstream {
    name: Arc<str>,
    /// `host:port`, for the CLIENT spans of calls to it.
    addr: Arc<str>,
    channels: Arc<[Channel]>,
    next: Arc<AtomicUsize>,
    tokens: Arc<TokenMode>,
}

impl Upstream {
    /// Channels to workload `name` at `addr` (`host:port`). Nothing
    /// connects until the first call.
    pub fn new(tls: &MeshTls, name: &str, addr: &str) -> Result<Self, UpstreamError> {
        let bad = |detail: String| UpstreamError {
            upstream: name.to_owned(),
            addr: addr.to_owned(),
            detail,
        };
        let expected = tls
            .trust_domain()
            .workload(name)
            .map_err(|e| bad(e.to_string()))?;
        let server_name = server_name(addr).map_err(bad)?;
        let endpoint = Endpoint::from_shared(format!("http://{addr}"))
            .map_err(|e| bad(e.to_string()))?
            .connect_timeout(Duration::from_secs(5))
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_timeout(Duration::from_secs(10));
        let connector = MeshConnector {
            tls: tls.clone(),
            addr: addr.into(),
            server_name,
            expected,
        };
        let channels = (0..POOL_SIZE)
            .map(|_| endpoint.connect_with_connector_lazy(connector.clone()))
            .collect();
        Ok(Self {
            name: name.into(),
            addr: addr.into(),
            channels,
            next: Arc::new(AtomicUsize::new(0)),
            tokens: Arc::new(TokenMode::None),
        })
    }

    /// Sends the caller's token to this upstream as `mode` says.
    pub fn with_tokens(mut self, mode: TokenMode) -> Self {
        self.tokens = Arc::new(mode);
        self
    }

    /// The next channel of the pool, round robin, with the caller's
    /// credentials and deadline attached to requests made with
    /// [`crate::Caller::request`].
    pub fn channel(&self) -> MeshChannel {
        MeshChannel::new(
            self.raw_channel(),
            self.tokens.clone(),
            self.name.clone(),
            self.addr.clone(),
        )
    }

    /// The next channel of the pool without anything attached.
    pub fn raw_channel(&self) -> Channel {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.channels.len();
        self.channels[i].clone()
    }
}

/// Dials one upstream over mutual TLS and checks who answered.
#[derive(Debug, Clone)]
struct MeshConnector {
    tls: MeshTls,
    addr: Arc<str>,
    server_name: ServerName<'static>,
    expected: SpiffeId,
}

impl tower::Service<Uri> for MeshConnector {
    type Response = TokioIo<TlsStream<TcpStream>>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _uri: Uri) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let stream = connect(
                &this.tls,
                &this.addr,
                this.server_name.clone(),
                &this.expected,
            )
            .await?;
            Ok(TokioIo::new(stream))
        })
    }
}

/// An upstream address that cannot be used.
#[derive(Debug, Clone, thiserror::Error)]
#[error("upstream '{upstream}' at '{addr}': {detail}")]
pub struct UpstreamError {
    upstream: String,
    addr: String,
    detail: String,
}
