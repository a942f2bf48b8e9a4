//! The admin calls:
//!
//! - `POST /admin/keys/rotate` schedules a signing key rotation;
//! - `POST /admin/users/{name}/revoke` revokes every session of a user (or
//!   any subject): their refresh families, and every access token issued
//!   so far, through the revocation feed every workload follows. Users
//!   come from the config file; to keep one from logging in again, remove
//!   them from it as well.
//!
//! Both are restricted to an access token of ours (RFC 6750 bearer) for
//! audience `auth`, with scope `admin` and role ADMIN, for example one
//! `ada` gets through `meshctl`. The token is read from the
//! `Authorization` header only, never from the URL.

use std::sync::Arc;

use axum::{
    extract::{Path, State},
    http::{HeaderMap, header},
    response::Response,
};
use serde::Serialize;

use super::respond;
use mesh::Role;

use crate::{authority::Authority, error::Error, keys::RotationOutcome, tokens::AccessClaims};

/// The audience an admin token must name.
const AUDIENCE: &str = "auth";

pub(super) async fn rotate(State(auth): State<Arc<Authority>>, headers: HeaderMap) -> Response {
    let result = handle(&auth, &headers).await;
    respond(&auth, "/admin/keys/rotate", result)
}

async fn handle(auth: &Authority, headers: &HeaderMap) -> Result<RotationOutcome, Error> {
    let now = auth.clock.now();
    let claims = admin(auth, headers, now, "key rotation").await?;
    let outcome = auth.keys.rotate(now).await?;
    tracing::info!(by = claims.sub, kid = outcome.kid, "key rotation requested");
    Ok(outcome)
}

/// What `POST /admin/users/{name}/revoke` did.
#[derive(Debug, Serialize)]
struct Revoked {
    subject: String,
    /// Tokens of the subject issued before this (Unix seconds) are refused.
    not_before: i64,
    /// Refresh token families that were live.
    refresh_families: u64,
}

pub(super) async fn revoke_user(
    State(auth): State<Arc<Authority>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = revoke(&auth, &name, &headers).await;
    respond(&auth, "/admin/users/revoke", result)
}

async fn revoke(auth: &Authority, name: &str, headers: &HeaderMap) -> Result<Revoked, Error> {
    let now = auth.clock.now();
    let claims = admin(auth, headers, now, "revoking a user").await?;
    // Any subject, not only configured users: a user removed from the
    // config, or a client, may still hold live tokens.
    if name.is_empty() || name.len() > 256 {
        return Err(Error::InvalidRequest(
            "the user name is empty or too long".into(),
        ));
    }
    let refresh_families = auth
        .store
        .revoke_families_of(name, now, "subject revoked by an admin")
        .await?;
    let not_before = auth.revoke_sessions(name, "", now).await?;
    tracing::warn!(
        by = claims.sub,
        subject = name,
        refresh_families,
        "user revoked"
    );
    Ok(Revoked {
        subject: name.to_owned(),
        not_before,
        refresh_families,
    })
}

/// The claims of the request's bearer token if it is an unrevoked ADMIN
/// token with scope `admin` for audience `auth`; `what` names the call.
async fn admin(
    auth: &Authority,
    headers: &HeaderMap,
    now: i64,
    what: &str,
) -> Result<AccessClaims, Error> {
    let token = bearer(headers)?;
    let claims = auth
        .tokens
        .verify(token, now)
        .map_err(|rejected| Error::InvalidToken { reason: rejected.0 })?;
    if auth.store.is_revoked(&claims, now).await? {
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
            format!("{what} needs role ADMIN and scope admin").into(),
        ));
    }
    Ok(claims)
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
