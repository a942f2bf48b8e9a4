//! Discovery: the JWKS and the server metadata (RFC 8414, the subset of
//! OpenID Connect Discovery that applies to a server without ID tokens).
//!
//! A verifier needs only the metadata URL and the CA bundle: `jwks_uri`
//! leads to the keys, `issuer` is what `iss` must equal.

use std::{collections::BTreeSet, sync::Arc};

use axum::{
    Json,
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use crate::{authority::Authority, grants::GrantType};

/// `GET /.well-known/jwks.json`: every published key, public members only.
/// Cacheable for less than the publish-ahead interval, so a verifier sees
/// a new key before it signs.
pub(super) async fn jwks(State(auth): State<Arc<Authority>>) -> Response {
    let jwks = auth.keys.jwks(auth.clock.now());
    let mut response = Json(jwks).into_response();
    let cache = format!("public, max-age={}", auth.settings.jwks_max_age);
    if let Ok(value) = HeaderValue::from_str(&cache) {
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    response
}

/// `GET /.well-known/openid-configuration`.
pub(super) async fn configuration(State(auth): State<Arc<Authority>>) -> Json<Value> {
    let issuer = auth.tokens.issuer();
    let mut grants = vec![
        GrantType::ClientCredentials,
        GrantType::RefreshToken,
        GrantType::TokenExchange,
    ];
    if auth.settings.password_grant {
        grants.insert(1, GrantType::Password);
    }
    // The algorithms of every published key, including one scheduled
    // after an algorithm change.
    let algorithms: BTreeSet<String> = auth
        .keys
        .jwks(auth.clock.now())
        .keys
        .into_iter()
        .map(|k| k.alg)
        .collect();
    let client_auth = ["client_secret_basic", "client_secret_post"];
    Json(json!({
        "issuer": issuer,
        "token_endpoint": format!("{issuer}/oauth2/token"),
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "introspection_endpoint": format!("{issuer}/oauth2/introspect"),
        "revocation_endpoint": format!("{issuer}/oauth2/revoke"),
        "grant_types_supported": grants.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
        "response_types_supported": [],
        "scopes_supported": auth.directory.scopes().iter().collect::<Vec<_>>(),
        "token_endpoint_auth_methods_supported": client_auth,
        "introspection_endpoint_auth_methods_supported": client_auth,
        "revocation_endpoint_auth_methods_supported": client_auth,
        "access_token_signing_alg_values_supported": algorithms,
        "token_types_supported": ["urn:ietf:params:oauth:token-type:access_token"],
    }))
}
