//! The accept loop of the mutual-TLS port: TCP accept, TLS handshake with a
//! deadline, identity read once per connection, then handed to tonic.
//!
//! Handshakes run in their own tasks, so a slow or hostile client cannot
//! hold up the accept loop, and their number is bounded. Each connection
//! picks up the certificate in use at that moment, which is how rotated
//! files take effect without a restart.

use std::{
    io,
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{Semaphore, mpsc},
};
use tokio_rustls::{TlsAcceptor, server::TlsStream};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::Connected;

use crate::{
    config::Limits,
    identity::{IdentityError, PeerId},
    metrics::Metrics,
    peer::ConnInfo,
    tls::{HANDSHAKE_FAILURES, MeshTls, failure_reason},
};

/// Accepted, verified connections, and the address they arrive on.
pub(super) struct Incoming {
    pub(super) stream: ReceiverStream<io::Result<MeshStream>>,
    pub(super) local_addr: SocketAddr,
}

/// Starts accepting on `listener`. The loop ends when the stream is dropped.
pub(super) fn tls_incoming(
    listener: TcpListener,
    tls: MeshTls,
    metrics: Metrics,
    limits: &Limits,
) -> Incoming {
    let local_addr = listener
        .local_addr()
        .unwrap_or_else(|_| ([0, 0, 0, 0], 0).into());
    metrics.declare_tls_handshake_failures(&HANDSHAKE_FAILURES);
    let (tx, rx) = mpsc::channel(64);
    let handshakes = Arc::new(Semaphore::new(limits.max_pending_handshakes));
    let timeout = limits.handshake_timeout;
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                () = tx.closed() => break,
                accepted = listener.accept() => accepted,
            };
            let (tcp, remote_addr) = match accepted {
                Ok(conn) => conn,
                Err(error) => {
                    // Usually out of file descriptors: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Ok(permit) = handshakes.clone().try_acquire_owned() else {
                metrics.tls_handshake_failure("overloaded");
                continue;
            };
            // serve_with_incoming ignores tonic's own tcp_nodelay setting.
            let _ = tcp.set_nodelay(true);
            let (tls, metrics, tx) = (tls.clone(), metrics.clone(), tx.clone());
            tokio::spawn(async move {
                let _permit = permit;
                let acceptor = TlsAcceptor::from(tls.server_config());
                let stream = match tokio::time::timeout(timeout, acceptor.accept(tcp)).await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(error)) => {
                        let reason = failure_reason(&error);
                        metrics.tls_handshake_failure(reason);
                        tracing::debug!(%remote_addr, reason, %error, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        metrics.tls_handshake_failure("timeout");
                        tracing::debug!(%remote_addr, "TLS handshake timed out");
                        return;
                    }
                };
                let peer = match stream
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                {
                    Some(leaf) => PeerId::from_leaf_der(leaf, tls.trust_domain()),
                    None => Err(IdentityError::NoCertificate),
                };
                let info = ConnInfo {
                    remote_addr,
                    peer: Arc::new(peer),
                };
                let _ = tx.send(Ok(MeshStream { io: stream, info })).await;
            });
        }
    });
    Incoming {
        stream: ReceiverStream::new(rx),
        local_addr,
    }
}

/// A server-side TLS connection with what its handshake established.
pub(crate) struct MeshStream {
    io: TlsStream<TcpStream>,
    info: ConnInfo,
}

impl Connected for MeshStream {
    type ConnectInfo = ConnInfo;

    fn connect_info(&self) -> ConnInfo {
        self.info.clone()
    }
}

impl AsyncRead for MeshStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl AsyncWrite for MeshStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}
