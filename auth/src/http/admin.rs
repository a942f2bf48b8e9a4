//! `POST /admin/keys/rotate`: schedules a signing key rotation.
//!
//! Restricted to an access token of ours (RFC 6750 bearer) for audience
//! `auth`, with scope `admin` and role ADMIN, for example one `ada` gets
//! through `meshctl`. The token is read from the `Authorization` header
//! only, never from the URL.

use std::sync::Arc;

use axum::{
    extract::State,
    http::{HeaderMap, header},
    response::Response,
};

use super::respond;
use mesh::Role;

use crate::{authority::Authority, error::Error, keys::RotationOutcome};

/// The audience an admin token must name.
const AUDIENCE: &str = "auth";

pub(super) async fn rotate(State(auth): State<Arc<Authority>>, headers: HeaderMap) -> Response {
    let result = handle(&auth, &headers).await;
    respond(&auth, "/admin/keys/rotate", result)
}

async fn handle(auth: &Authority, headers: &HeaderMap) -> Result<RotationOutcome, Error> {
    let token = bearer(headers)?;
    let now = auth.clock.now();
    let claims = auth
        .tokens
        .verify(token, now)
        .map_err(|rejected| Error::InvalidToken { reason: rejected.0 })?;
    if auth.store.is_revoked(&claims.jti).await? {
        return Err(Error::InvalidToken {
            reason: "token_revoked",
        });
    }
    if !claims.aud.iter().any(|a| a == AUDIENCE) {
        return Err(Error::InvalidToken {
            reason: "wrong_audience",
        });
    }
    let is_admin = claims.roles.contains(&Role::Admin);
    let has_scope = claims.scope.split(' ').any(|s| s == "admin");
    if !(is_admin && has_scope) {
        return Err(Error::InsufficientScope(
            "key rotation needs role ADMIN and scope admin".into(),
        ));
    }
    let outcome = auth.keys.rotate(now).await?;
    tracing::info!(by = claims.sub, kid = outcome.kid, "key rotation requested");
    Ok(outcome)
}

/// The one `Authorization: Bearer` token of the request.
fn bearer(headers: &HeaderMap) -> Result<&str, Error> {
    let missing = Error::InvalidToken {
        reason: "no_bearer_token",
    };
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(missing);
    };
    let value = value.to_str().map_err(|_| Error::InvalidToken {
        reason: "malformed_token",
    })?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() => {
            Ok(token.trim())
        }
        _ => Err(missing),
    }
}
