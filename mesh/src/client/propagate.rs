//! The client side of zero trust: what an outgoing call carries.
//!
//! When a handler calls an upstream on behalf of its caller (an outgoing
//! request made with [`Caller::request`]), this layer attaches
//!
//! - the subject's token: the caller's own (mode `propagate`), or one
//!   exchanged at `auth` for the upstream's audience (mode `exchange`,
//!   cached per token and audience until shortly before it expires);
//! - the remaining deadline, minus a margin for the hop itself; a call
//!   whose deadline has already passed is not sent at all.
//!
//! Only configured upstreams get this layer, so a token never leaves for a
//! destination the service was not configured to call.

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use http::{HeaderValue, header::AUTHORIZATION};
use mesh_proto::auth::v1::{ExchangeTokenRequest, auth_client::AuthClient};
use quick_cache::sync::Cache;
use tokio::time::Instant;
use tonic::{Status, body::Body, transport::Channel};
use tower::Service;
use tracing::Span;

use super::ClientBody;
use crate::jwt::{Caller, Revocations};

/// Time kept back from the caller's deadline for the hop itself.
const DEADLINE_MARGIN: Duration = Duration::from_millis(5);

/// An exchanged token is renewed this long before it expires.
const EXCHANGE_RENEW_BEFORE: Duration = Duration::from_secs(30);

/// Which token an upstream receives.
#[derive(Debug, Clone)]
pub enum TokenMode {
    /// None: the upstream authenticates this workload alone (the JWKS, health).
    None,
    /// The caller's token, unchanged.
    Propagate,
    /// A token exchanged at `auth` for the upstream's audience, carrying an
    /// `act` claim that names this workload.
    Exchange(Exchanger),
}

/// (SHA-256 of the subject token, audience): what an exchanged token is cached by.
type ExchangeKey = ([u8; 32], Arc<str>);

/// Exchanges caller tokens at `auth` (RFC 8693) and caches the results.
#[derive(Debug, Clone)]
pub struct Exchanger {
    auth: MeshChannel,
    cache: Arc<Cache<ExchangeKey, (Arc<str>, Instant)>>,
    /// Checked before the cache: a cached token exchanged from a revoked
    /// one is never handed on (the validator already refused the caller's
    /// token; this holds even for a `Caller` that skipped it).
    revocations: Option<Arc<Revocations>>,
}

impl Exchanger {
    /// Exchanges through `auth`, a channel to the `auth` workload,
    /// refusing callers whose token `revocations` holds.
    pub fn new(auth: MeshChannel, revocations: Option<Arc<Revocations>>) -> Self {
        Self {
            auth,
            cache: Arc::new(Cache::new(10_000)),
            revocations,
        }
    }

    async fn token_for(&self, caller: &Caller, audience: &Arc<str>) -> Result<Arc<str>, Status> {
        let key = (crate::jwt::cache::hash(caller.token()), audience.clone());
        if let Some(revocations) = &self.revocations
            && let Err(refused) = revocations.check(caller.claims())
        {
            self.cache.remove(&key);
            return Err(refused.into());
        }
        if let Some((token, renew_at)) = self.cache.get(&key)
            && Instant::now() < renew_at
        {
            return Ok(token);
        }
        let mut request = tonic::Request::new(ExchangeTokenRequest {
            subject_token: caller.token().to_owned(),
            audience: audience.to_string(),
            scope: String::new(),
        });
        request.set_timeout(Duration::from_secs(5));
        let response = AuthClient::new(self.auth.clone())
            .exchange_token(request)
            .await
            .map_err(|status| {
                tracing::warn!(code = ?status.code(), message = status.message(), %audience, "token exchange failed");
                match status.code() {
                    tonic::Code::Unauthenticated | tonic::Code::PermissionDenied => status,
                    _ => Status::unavailable("token exchange with auth failed"),
                }
            })?
            .into_inner();
        let token: Arc<str> = response.access_token.into();
        let lifetime = Duration::from_secs(response.expires_in.max(0) as u64);
        let renew_at = Instant::now() + lifetime.saturating_sub(EXCHANGE_RENEW_BEFORE);
        self.cache.insert(key, (token.clone(), renew_at));
        Ok(token)
    }
}

/// A channel to one upstream with the caller's credentials and deadline
/// attached to each request.
#[derive(Debug, Clone)]
pub struct MeshChannel {
    inner: Channel,
    mode: Arc<TokenMode>,
    /// The upstream's workload name: the audience of exchanged tokens.
    audience: Arc<str>,
    /// The upstream's `host:port`.
    server: Arc<str>,
}

impl MeshChannel {
    pub(crate) fn new(
        inner: Channel,
        mode: Arc<TokenMode>,
        audience: Arc<str>,
        server: Arc<str>,
    ) -> Self {
        Self {
            inner,
            mode,
            audience,
            server,
        }
    }
}

impl Service<http::Request<Body>> for MeshChannel {
    type Response = http::Response<ClientBody>;
    type Error = tonic::transport::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<Body>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let (mode, audience) = (self.mode.clone(), self.audience.clone());
        // A CLIENT span per call, child of the span the call is made in;
        // the trace continues upstream from it, caller or not.
        let span = crate::telemetry::client_span(req.uri().path(), &self.server);
        Box::pin(async move {
            let refuse = |span: Span, status: Status| Ok(ClientBody::finished(span, status));
            let Some(caller) = req.extensions().get::<Caller>().cloned() else {
                crate::telemetry::inject(&span, req.headers_mut());
                return Ok(ClientBody::wrap(span, inner.call(req).await?));
            };
            if let Some(remaining) = caller.remaining() {
                let Some(budget) = remaining
                    .checked_sub(DEADLINE_MARGIN)
                    .filter(|b| !b.is_zero())
                else {
                    return refuse(
                        span,
                        Status::deadline_exceeded("the caller's deadline has passed"),
                    );
                };
                let millis = budget.as_millis().clamp(1, 99_999_999);
                let value = HeaderValue::from_str(&format!("{millis}m"))
                    .expect("digits and a unit are a valid header");
                req.headers_mut().insert("grpc-timeout", value);
            }
            let token = match &*mode {
                TokenMode::None => None,
                TokenMode::Propagate => Some(Arc::<str>::from(caller.token())),
                TokenMode::Exchange(exchanger) => {
                    match exchanger.token_for(&caller, &audience).await {
                        Ok(token) => Some(token),
                        Err(status) => return refuse(span, status),
                    }
                }
            };
            if let Some(token) = token {
                let Ok(value) = HeaderValue::from_str(&format!("Bearer {token}")) else {
                    return refuse(span, Status::internal("token is not a valid header value"));
                };
                req.headers_mut().insert(AUTHORIZATION, value);
            }
            crate::telemetry::inject(&span, req.headers_mut());
            Ok(ClientBody::wrap(span, inner.call(req).await?))
        })
    }
}
