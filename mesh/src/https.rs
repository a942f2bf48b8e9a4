//! Serving an HTTP application (axum) over TLS on a port outsiders reach:
//! the OAuth 2.0 endpoints of `auth` and the gateway's public port.
//!
//! HTTP/1.1 and HTTP/2 by ALPN, TLS 1.2 and 1.3, the same explicit limits as
//! the gRPC port, and a client certificate optional: when a mesh workload
//! presents one, its verified identity reaches handlers as the [`ConnInfo`]
//! request extension, exactly as on the gRPC port.

mod idle;
mod span;

use std::{convert::Infallible, future::Future, io, sync::Arc, time::Duration};

use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::conn::auto,
    service::TowerToHyperService,
};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{Semaphore, mpsc},
};
use tokio_rustls::{TlsAcceptor, server::TlsStream};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;
use tracing::Instrument;

pub use span::{named_by_route, record_grant_type, record_route, record_rpc, refused};

use crate::{
    config::Limits,
    identity::{IdentityError, PeerId},
    metrics::Metrics,
    peer::ConnInfo,
    telemetry::HttpLayer,
    tls::{HANDSHAKE_FAILURES, MeshTls, failure_reason},
};

/// Serves `app` on `listener` until `shutdown` completes, then lets open
/// requests finish for up to `limits.shutdown_grace`.
pub async fn serve(
    listener: TcpListener,
    tls: MeshTls,
    app: axum::Router,
    limits: &Limits,
    metrics: Metrics,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        // Slow clients: headers not finished in time close the connection.
        .header_read_timeout(limits.handshake_timeout)
        .max_buf_size(64 * 1024 + limits.max_header_list_bytes as usize);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.max_concurrent_streams)
        .max_pending_accept_reset_streams(limits.max_pending_accept_reset_streams)
        .max_local_error_reset_streams(limits.max_local_error_reset_streams)
        .max_header_list_size(limits.max_header_list_bytes)
        .keep_alive_interval(std::time::Duration::from_secs(30));
    let builder = Arc::new(builder);
    // Connections end on their own, when idle, or when `stop` is cancelled;
    // each holds a clone of `done` so the server knows when all have ended.
    let stop = CancellationToken::new();
    let (done, mut all_done) = mpsc::channel::<()>(1);
    metrics.declare_tls_handshake_failures(&HANDSHAKE_FAILURES);
    // Count and time every request: the SLIs of the edge's SLOs.
    let app = app.layer(HttpLayer::new(metrics.clone()));
    let handshakes = Arc::new(Semaphore::new(limits.max_pending_handshakes));
    let timeout = limits.handshake_timeout;
    let timeouts = Timeouts {
        idle: limits.idle_timeout,
        drain: limits.shutdown_grace,
    };
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(https = %addr, "serving HTTPS");
    }
    tokio::pin!(shutdown);
    loop {
        let (tcp, remote_addr) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = handshakes.clone().try_acquire_owned() else {
            metrics.tls_handshake_failure("overloaded");
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = TlsAcceptor::from(tls.public_server_config());
        let stream = {
            let metrics = metrics.clone();
            async move {
                let _permit = permit;
                match tokio::time::timeout(timeout, acceptor.accept(tcp)).await {
                    Ok(Ok(stream)) => Some(stream),
                    Ok(Err(error)) => {
                        metrics.tls_handshake_failure(failure_reason(&error));
                        None
                    }
                    Err(_) => {
                        metrics.tls_handshake_failure("timeout");
                        None
                    }
                }
            }
        };
        let (builder, app, tls, stop, done) = (
            builder.clone(),
            app.clone(),
            tls.clone(),
            stop.clone(),
            done.clone(),
        );
        tokio::spawn(async move {
            let _done = done;
            let Some(stream) = stream.await else { return };
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
            serve_connection(&builder, stream, app, info, timeouts, stop).await;
        });
    }
    drop(listener);
    stop.cancel();
    drop(done);
    if tokio::time::timeout(limits.shutdown_grace, all_done.recv())
        .await
        .is_err()
    {
        tracing::warn!("shutdown grace exceeded; dropping remaining HTTP connections");
    }
    Ok(())
}

/// How long a connection may sit idle, and drain once asked to close.
#[derive(Debug, Clone, Copy)]
struct Timeouts {
    idle: Duration,
    drain: Duration,
}

/// Serves one TLS connection until the client closes it, it has been idle
/// for `timeouts.idle`, or `stop` is cancelled; the last two close it
/// gracefully (HTTP/2 GOAWAY, or after the HTTP/1.1 request in progress),
/// letting requests already received finish for up to `timeouts.drain`.
async fn serve_connection(
    builder: &auto::Builder<TokioExecutor>,
    stream: TlsStream<TcpStream>,
    app: axum::Router,
    info: ConnInfo,
    timeouts: Timeouts,
    stop: CancellationToken,
) {
    let remote_addr = info.remote_addr;
    // Every request holds the connection's activity guard until its
    // response body is gone, so the watchdog never cuts one short.
    let activity = idle::Activity::new();
    let service = {
        let activity = activity.clone();
        tower::service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(info.clone());
            let in_flight = activity.start();
            let app = app.clone();
            let span = span::server_span(&req, remote_addr);
            async move {
                let response = app.oneshot(req).instrument(span.clone()).await?;
                span::record_status(&span, response.status());
                span::record_grpc_status(&span, response.headers());
                Ok::<_, Infallible>(response.map(|body| {
                    // The span ends with the body; a gRPC status comes last.
                    axum::body::Body::new(http_body_util::BodyExt::map_frame(body, move |frame| {
                        let _in_flight = &in_flight;
                        if let Some(trailers) = frame.trailers_ref() {
                            span::record_grpc_status(&span, trailers);
                        }
                        frame
                    }))
                }))
            }
        })
    };
    let conn = builder
        .serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(service));
    tokio::pin!(conn);
    let why = tokio::select! {
        result = conn.as_mut() => {
            if let Err(error) = result {
                tracing::debug!(%remote_addr, %error, "connection ended with an error");
            }
            return;
        }
        () = idle::expired(&activity, timeouts.idle) => "idle",
        () = stop.cancelled() => "shutting down",
    };
    tracing::debug!(%remote_addr, why, "closing the connection");
    conn.as_mut().graceful_shutdown();
    if tokio::time::timeout(timeouts.drain, conn).await.is_err() {
        tracing::debug!(%remote_addr, "connection did not drain in time; dropped");
    }
}
