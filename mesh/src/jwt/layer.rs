//! The tower layer that authenticates the token of each request.
//!
//! It sits after [`crate::PeerIdLayer`] (the peer is part of the
//! [`Caller`]) and before [`crate::AuthorizeLayer`] (which decides whether
//! the RPC needs a token at all). A request without a token passes on
//! without a `Caller`; a request with a bad token is refused here.

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use http::header::AUTHORIZATION;
use tonic::Status;
use tower::{Layer, Service};

use super::{AuthError, Caller, MAX_TOKEN_BYTES, Validator, caller::parse_grpc_timeout};
use crate::{identity::PeerId, metrics::Metrics};

/// Adds [`JwtService`] to a stack.
#[derive(Debug, Clone)]
pub struct JwtLayer {
    validator: Validator,
    metrics: Metrics,
}

impl JwtLayer {
    /// Validates with `validator`; refusals are counted in
    /// `mesh_auth_failures_total{reason}`.
    pub fn new(validator: Validator, metrics: Metrics) -> Self {
        Self { validator, metrics }
    }
}

impl<S> Layer<S> for JwtLayer {
    type Service = JwtService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        JwtService {
            inner,
            validator: self.validator.clone(),
            metrics: self.metrics.clone(),
        }
    }
}

/// Validates the bearer token and hands on a [`Caller`].
#[derive(Debug, Clone)]
pub struct JwtService<S> {
    inner: S,
    validator: Validator,
    metrics: Metrics,
}

/// The bearer token of a request: `Ok(None)` when there is none.
pub fn bearer_token(headers: &http::HeaderMap) -> Result<Option<&str>, AuthError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(AuthError::MultipleAuthorization);
    }
    // Size first: nothing below looks at more than this many bytes.
    if value.len() > MAX_TOKEN_BYTES + "Bearer ".len() {
        return Err(AuthError::TooLarge);
    }
    let value = value.to_str().map_err(|_| AuthError::NotBearer)?;
    let (scheme, token) = value.split_once(' ').ok_or(AuthError::NotBearer)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::NotBearer);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(AuthError::Missing);
    }
    Ok(Some(token))
}

impl<S, B, ResBody> Service<http::Request<B>> for JwtService<S>
where
    S: Service<http::Request<B>, Response = http::Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    ResBody: Default,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        // The ready service is the one we were polled for; leave a clone behind.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let (validator, metrics) = (self.validator.clone(), self.metrics.clone());
        Box::pin(async move {
            let Some(peer) = req.extensions().get::<PeerId>().cloned() else {
                return Ok(refuse(&metrics, AuthError::Missing));
            };
            match authenticate(&validator, req.headers(), peer).await {
                Ok(Some(caller)) => {
                    req.extensions_mut().insert(caller);
                }
                Ok(None) => {}
                Err(error) => return Ok(refuse(&metrics, error)),
            }
            inner.call(req).await
        })
    }
}

/// Authenticates the bearer token in `headers` for a request that arrived
/// from `peer`: `Ok(None)` when there is no token, a [`Caller`] (with the
/// deadline from `grpc-timeout`) when it is valid. The gateway uses the
/// same function at the edge, so both apply one set of rules.
pub async fn authenticate(
    validator: &Validator,
    headers: &http::HeaderMap,
    peer: PeerId,
) -> Result<Option<Caller>, AuthError> {
    let Some(token) = bearer_token(headers)? else {
        return Ok(None);
    };
    let token = Arc::<str>::from(token);
    let claims = validator.validate(&token).await?;
    let deadline = headers
        .get("grpc-timeout")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_grpc_timeout)
        .map(|d| tokio::time::Instant::now() + d);
    Ok(Some(Caller::new(peer, claims, token, deadline)))
}

fn refuse<ResBody: Default>(metrics: &Metrics, error: AuthError) -> http::Response<ResBody> {
    metrics.auth_failure(error.reason());
    tracing::warn!(reason = error.reason(), "refused a token: {error}");
    Status::from(error).into_http()
}
