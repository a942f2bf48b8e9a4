//! Serving an HTTP application (axum) over TLS on a port outsiders reach:
//! the OAuth 2.0 endpoints of `auth` and the gateway's public port.
//!
//! HTTP/1.1 and HTTP/2 by ALPN, TLS 1.2 and 1.3, the same explicit limits as
//! the gRPC port, and a client certificate optional: when a mesh workload
//! presents one, its verified identity reaches handlers as the [`ConnInfo`]
//! request extension, exactly as on the gRPC port.

mod idle;

use std::{convert::Infallible, future::Future, io, sync::Arc};

use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::{conn::auto, graceful::GracefulShutdown},
    service::TowerToHyperService,
};
use tokio::{net::TcpListener, sync::Semaphore};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::{
    config::Limits,
    identity::{IdentityError, PeerId},
    metrics::Metrics,
    peer::ConnInfo,
    tls::{MeshTls, failure_reason},
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
    let graceful = GracefulShutdown::new();
    let handshakes = Arc::new(Semaphore::new(limits.max_pending_handshakes));
    let timeout = limits.handshake_timeout;
    let idle_timeout = limits.idle_timeout;
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
        let (builder, app, tls, watcher) = (
            builder.clone(),
            app.clone(),
            tls.clone(),
            graceful.watcher(),
        );
        tokio::spawn(async move {
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
            // Every request holds the connection's activity guard until its
            // response body is gone, so the watchdog never cuts one short.
            let activity = idle::Activity::new();
            let service = {
                let activity = activity.clone();
                tower::service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(info.clone());
                    let in_flight = activity.start();
                    let app = app.clone();
                    async move {
                        let response = app.oneshot(req).await?;
                        Ok::<_, Infallible>(response.map(|body| {
                            axum::body::Body::new(http_body_util::BodyExt::map_frame(
                                body,
                                move |frame| {
                                    let _in_flight = &in_flight;
                                    frame
                                },
                            ))
                        }))
                    }
                })
            };
            let conn = builder.serve_connection_with_upgrades(
                TokioIo::new(stream),
                TowerToHyperService::new(service),
            );
            tokio::select! {
                result = watcher.watch(conn.into_owned()) => if let Err(error) = result {
                    tracing::debug!(%remote_addr, %error, "connection ended with an error");
                },
                () = idle::expired(&activity, timeout, idle_timeout) => {
                    tracing::debug!(%remote_addr, "closed an idle connection");
                }
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("shutdown grace exceeded; dropping remaining HTTP connections");
    }
    Ok(())
}
