//! The OAuth 2.0 HTTP endpoints, served over TLS by `mesh::https`:
//!
//! | route | what |
//! |---|---|
//! | `POST /oauth2/token` | every grant (RFC 6749, RFC 8693) |
//! | `POST /oauth2/introspect` | RFC 7662, authenticated clients only |
//! | `POST /oauth2/revoke` | RFC 7009 |
//! | `GET /.well-known/jwks.json` | the public signing keys |
//! | `GET /.well-known/openid-configuration` | discovery (also at `/.well-known/oauth-authorization-server`, RFC 8414) |
//! | `POST /admin/keys/rotate` | schedule a key rotation; needs an ADMIN token with scope `admin` for audience `auth` |
//! | `POST /admin/users/{name}/revoke` | revoke every session and token of a user; same token as above |
//! | `POST /admin/clients/{id}/secret` | rotate a client's secret (form `grace_seconds`, default a day); same token |
//! | `POST /admin/clients/{id}/secret/finish` | retire a client's previous secret now; same token |
//!
//! Handlers read the whole request themselves ([`Form::read`]), so every
//! malformed input becomes an OAuth2 error of ours, and answer through
//! [`respond`], the one place results become responses.

mod admin;
mod discovery;
mod form;
mod introspect;
pub(crate) mod quota;
mod revoke;
mod token;

use std::{net::IpAddr, sync::Arc};

use axum::{
    Json, Router,
    http::{HeaderMap, HeaderValue, header, request::Parts},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use mesh::peer::ConnInfo;
use serde::Serialize;

pub(crate) use form::Form;

use crate::{authority::Authority, clients::ClientCredentials, directory::Client, error::Error};

/// The header a trusted proxy names the original client address in.
const FORWARDED_FOR: &str = "x-forwarded-for";

/// The routes of the HTTPS port.
pub(crate) fn router(auth: Arc<Authority>) -> Router {
    Router::new()
        .route("/oauth2/token", post(token::token))
        .route("/oauth2/introspect", post(introspect::introspect))
        .route("/oauth2/revoke", post(revoke::revoke))
        .route("/.well-known/jwks.json", get(discovery::jwks))
        .route(
            "/.well-known/openid-configuration",
            get(discovery::configuration),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get(discovery::configuration),
        )
        .route("/admin/keys/rotate", post(admin::rotate))
        .route("/admin/users/{name}/revoke", post(admin::revoke_user))
        .route("/admin/clients/{id}/secret", post(admin::rotate_secret))
        .route(
            "/admin/clients/{id}/secret/finish",
            post(admin::finish_secret),
        )
        // Each request's span is named by its route, never by a raw path.
        .route_layer(axum::middleware::from_fn(mesh::https::named_by_route))
        .with_state(auth)
}

/// The OAuth client that `parts` and `form` authenticate (RFC 6749 §2.3),
/// throttled per client and address. Never the TLS peer's identity.
pub(crate) async fn authenticate_client(
    auth: &Authority,
    parts: &Parts,
    form: &Form,
    now: i64,
) -> Result<Arc<Client>, Error> {
    let credentials = ClientCredentials::from_request(&parts.headers, form)?;
    let address = client_address(auth, parts);
    auth.clients.authenticate(&credentials, address, now).await
}

/// The address a request came from: the TCP peer's, or, when the peer is a
/// trusted proxy workload (`--trusted-proxy`, proven by its mTLS client
/// certificate), the one address it put in `x-forwarded-for`. The proxy's
/// identity decides nothing else.
pub(crate) fn client_address(auth: &Authority, parts: &Parts) -> Option<IpAddr> {
    let info = parts.extensions.get::<ConnInfo>()?;
    let proxied = info
        .peer
        .as_ref()
        .as_ref()
        .is_ok_and(|peer| auth.settings.trusted_proxies.contains(peer.workload()));
    if !proxied {
        return Some(info.remote_addr.ip());
    }
    let mut values = parts.headers.get_all(FORWARDED_FOR).iter();
    match (values.next(), values.next()) {
        (Some(value), None) => value.to_str().ok()?.trim().parse().ok(),
        // A proxy that forwards a request names exactly one address.
        _ => None,
    }
}

/// Marks a response as never to be cached (RFC 6749 §5.1).
pub(crate) fn no_store(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// Turns a handler's result into a JSON response; failures are recorded
/// (metrics, log) under `method` first.
pub(crate) fn respond<T: Serialize>(
    auth: &Authority,
    method: &str,
    result: Result<T, Error>,
) -> Response {
    match result {
        Ok(body) => {
            let mut response = Json(body).into_response();
            no_store(response.headers_mut());
            response
        }
        Err(error) => {
            error.record(&auth.metrics.mesh, method);
            error.into_response()
        }
    }
}
