//! What every API request goes through at the edge, REST or gRPC, in this
//! order: headers only the mesh may set are removed, a token in the URL is
//! refused, the bearer token is checked by the mesh's own validator (same
//! code and rules as every service), and the caller's rate limits are
//! charged. Requests without a valid token are limited per source IP.

use std::net::IpAddr;

use http::HeaderMap;
use mesh::{Caller, jwt::AuthError};

use crate::{Gateway, problem::GatewayError};

/// Headers a client may never set: identity and routing in the mesh come
/// from mutual TLS, never from headers.
const MESH_ONLY_PREFIXES: &[&str] = &["x-mesh-", "x-forwarded-client-cert", "x-spiffe-", "l5d-"];

/// Removes headers only the mesh may set.
pub(crate) fn strip_mesh_headers(headers: &mut HeaderMap) {
    let doomed: Vec<_> = headers
        .keys()
        .filter(|name| {
            MESH_ONLY_PREFIXES
                .iter()
                .any(|p| name.as_str().starts_with(p))
        })
        .cloned()
        .collect();
    for name in doomed {
        headers.remove(name);
    }
}

/// Authenticates and rate-limits one API request.
pub(crate) async fn admit(
    gw: &Gateway,
    headers: &HeaderMap,
    query: Option<&str>,
    ip: Option<IpAddr>,
) -> Result<Caller, GatewayError> {
    let token_in_query = query.is_some_and(|q| {
        q.split('&').any(|pair| {
            pair.split('=')
                .next()
                .is_some_and(|k| k.eq_ignore_ascii_case("access_token"))
        })
    });
    let outcome = if token_in_query {
        Err(AuthError::NotBearer)
    } else {
        mesh::jwt::authenticate(&gw.validator, headers, gw.identity.clone()).await
    };
    let refusal = match outcome {
        Ok(Some(caller)) => {
            gw.limits.check_caller(caller.claims())?;
            return Ok(caller);
        }
        Ok(None) => AuthError::Missing,
        Err(error) => error,
    };
    if let Some(ip) = ip {
        gw.limits.check_ip(ip)?;
    }
    gw.metrics.auth_failure(refusal.reason());
    mesh::https::refused(refusal.reason());
    tracing::warn!(
        reason = refusal.reason(),
        "refused a request at the edge: {refusal}"
    );
    Err(match refusal {
        // Our fault, not the caller's: 503, as the services answer UNAVAILABLE.
        AuthError::KeysUnavailable | AuthError::RevocationsUnavailable => {
            GatewayError::from_status(&refusal.into())
        }
        AuthError::NotBearer if token_in_query => GatewayError::unauthenticated(
            "send the token in the Authorization header, never in the URL",
            true,
        ),
        AuthError::Missing => {
            GatewayError::unauthenticated("this operation needs a bearer token", false)
        }
        other => GatewayError::unauthenticated(format!("invalid credentials: {other}"), true),
    })
}
