//! The caller's workload identity, as a tower layer.
//!
//! The TLS acceptor reads the peer certificate once per connection and
//! stores the outcome in [`ConnInfo`]; tonic puts that into every request's
//! extensions. [`PeerIdLayer`] turns it into a typed [`PeerId`] extension
//! for the layers and handlers after it, or answers `UNAUTHENTICATED`:
//! a caller without a verifiable identity is refused, never "anonymous".

use std::{
    net::SocketAddr,
    sync::Arc,
    task::{Context, Poll},
};

use futures_util::future::Either;
use tonic::Status;
use tower::{Layer, Service};

use crate::{
    identity::{IdentityError, PeerId},
    metrics::Metrics,
};

/// What the server knows about one connection, fixed at its handshake.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// The TCP peer address.
    pub remote_addr: SocketAddr,
    /// The workload identity from the client certificate, or why there is none.
    pub peer: Arc<Result<PeerId, IdentityError>>,
}

/// Adds [`PeerIdService`] to a stack.
#[derive(Debug, Clone)]
pub struct PeerIdLayer {
    metrics: Metrics,
}

impl PeerIdLayer {
    /// Refusals are counted in `metrics` as `mesh_auth_failures_total{reason}`.
    pub fn new(metrics: Metrics) -> Self {
        metrics.declare_auth_failures(IdentityError::ALL.iter().map(IdentityError::reason));
        Self { metrics }
    }
}

impl<S> Layer<S> for PeerIdLayer {
    type Service = PeerIdService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PeerIdService {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// Requires a verified workload identity and hands it on as [`PeerId`].
#[derive(Debug, Clone)]
pub struct PeerIdService<S> {
    inner: S,
    metrics: Metrics,
}

impl<S, B, ResBody> Service<http::Request<B>> for PeerIdService<S>
where
    S: Service<http::Request<B>, Response = http::Response<ResBody>>,
    ResBody: Default,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Either<S::Future, std::future::Ready<Result<Self::Response, Self::Error>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let outcome = match req.extensions().get::<ConnInfo>() {
            Some(info) => info.peer.as_ref().clone(),
            None => Err(IdentityError::NoCertificate),
        };
        match outcome {
            Ok(peer) => {
                req.extensions_mut().insert(peer);
                Either::Left(self.inner.call(req))
            }
            Err(error) => {
                self.metrics.auth_failure(error.reason());
                tracing::warn!(
                    reason = error.reason(),
                    "refused a caller without a workload identity: {error}"
                );
                let status =
                    Status::unauthenticated(format!("no valid workload identity: {error}"));
                Either::Right(std::future::ready(Ok(status.into_http())))
            }
        }
    }
}

/// The network a client address stands for, for limits keyed by address:
/// an IPv4 address itself, an IPv6 one's /64 (what one subscriber or host
/// gets, and can take any address of).
pub fn client_network(ip: std::net::IpAddr) -> std::net::IpAddr {
    match ip {
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.into(),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                std::net::Ipv6Addr::from(bits).into()
            }
        },
        v4 => v4,
    }
}

#[cfg(test)]
mod network_tests {
    use super::client_network;

    #[test]
    fn ipv6_addresses_count_by_their_64() {
        let a = client_network("2001:db8:1:2:aaaa::1".parse().expect("ip"));
        let b = client_network("2001:db8:1:2:bbbb::9".parse().expect("ip"));
        let c = client_network("2001:db8:1:3::1".parse().expect("ip"));
        assert_eq!(a, b);
        assert_ne!(a, c);
        let v4 = "10.0.0.1".parse().expect("ip");
        assert_eq!(client_network(v4), v4);
        assert_eq!(client_network("::ffff:10.0.0.1".parse().expect("ip")), v4);
    }
}
