//! The baseline: the same gRPC service over h2c, with no TLS, no identity,
//! no token and no policy. It exists only in this benchmark binary.
//!
//! It keeps everything of the kit's server that is not security: the
//! HTTP/2 limits, the request timeout, `TCP_NODELAY`, and the `RpcLayer`
//! that counts, times and traces each RPC, so that the secure modes differ
//! from it by their security alone.

use std::{convert::Infallible, future::Future, net::SocketAddr, sync::Arc};

use anyhow::Context;
use mesh::{Limits, Metrics, Policy, ServerArgs, telemetry::RpcLayer};
use mesh_proto::MessageLimits;
use tokio::net::TcpListener;
use tokio_stream::{StreamExt, wrappers::TcpListenerStream};
use tonic::{body::Body, server::NamedService};

/// A bound plaintext server, not yet serving.
#[derive(Debug)]
pub struct Plaintext {
    listener: TcpListener,
    limits: Limits,
}

impl Plaintext {
    /// Sets up logging and binds `--listen` (default: the accounts port).
    pub async fn start(args: &ServerArgs) -> anyhow::Result<Self> {
        mesh::telemetry::init(args.log_format, mesh::ACCOUNTS.name);
        let addr = args
            .listen
            .unwrap_or(([127, 0, 0, 1], mesh::ACCOUNTS.grpc_port).into());
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("--listen {addr}: cannot listen"))?;
        Ok(Self {
            listener,
            limits: args.limits.clone(),
        })
    }

    /// Where the h2c port listens.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves `service` (methods labelled by `policy` in the metrics) until
    /// `shutdown` completes.
    pub async fn serve<S>(
        self,
        service: S,
        policy: Policy,
        shutdown: impl Future<Output = ()>,
    ) -> anyhow::Result<()>
    where
        S: MessageLimits
            + NamedService
            + tower::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        let addr = self.local_addr()?;
        let limits = self.limits;
        let (metrics, _registry) = Metrics::new(mesh::ACCOUNTS.name);
        // As in the kit: serve_with_incoming ignores tonic's tcp_nodelay.
        let incoming = TcpListenerStream::new(self.listener).map(|conn| {
            if let Ok(tcp) = &conn {
                let _ = tcp.set_nodelay(true);
            }
            conn
        });
        let router = tonic::transport::Server::builder()
            .max_concurrent_streams(limits.max_concurrent_streams)
            .http2_max_pending_accept_reset_streams(Some(limits.max_pending_accept_reset_streams))
            .http2_max_local_error_reset_streams(Some(limits.max_local_error_reset_streams))
            .http2_max_header_list_size(limits.max_header_list_bytes)
            .timeout(limits.request_timeout)
            // The kit's outermost layer, the only one that is not security.
            .layer(RpcLayer::new(metrics, Arc::new(policy)))
            .add_service(service.with_max_message_size(limits.max_message_bytes as usize));
        tracing::warn!(
            workload = mesh::ACCOUNTS.name,
            "bench-target: PLAINTEXT h2c, no TLS, no identity, no token checks (benchmark baseline only)"
        );
        tracing::info!(workload = mesh::ACCOUNTS.name, mode = "plaintext", grpc = %addr, "serving");
        router
            .serve_with_incoming_shutdown(incoming, shutdown)
            .await?;
        Ok(())
    }
}
