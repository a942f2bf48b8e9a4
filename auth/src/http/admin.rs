//! The admin calls:
//!
//! - `POST /admin/keys/rotate` schedules a signing key rotation;
//! - `POST /admin/users/{name}/revoke` revokes every session of a user (or
//!   any subject): their refresh families, and every access token issued
//!   so far, through the revocation feed every workload follows. Users
//!   come from the config file; to keep one from logging in again, remove
//!   them from it as well.
//!
//! - `POST /admin/clients/{id}/secret` rotates a client's secret: a new
//!   one, shown once in the answer, and the old one still valid for
//!   `grace_seconds` (form parameter; default a day, at most 30 days);
//! - `POST /admin/clients/{id}/secret/finish` retires the previous secret
//!   before its grace period ends.
//!
//! All are restricted to an access token of ours (RFC 6750 bearer) for
//! audience `auth`, with scope `admin` and role ADMIN, for example one
//! `ada` gets through `meshctl`. The token is read from the
//! `Authorization` header only, never from the URL.

use std::sync::Arc;

use axum::{
    extract::{Path, Request, State},
    http::{HeaderMap, header},
    response::Response,
};
use serde::Serialize;

use super::{Form, respond};
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

/// Default grace period of a rotated client secret: a day.
const DEFAULT_GRACE_SECS: i64 = 24 * 3600;
/// Longest grace period: 30 days.
const MAX_GRACE_SECS: i64 = 30 * 24 * 3600;

/// What `POST /admin/clients/{id}/secret` did. The secret appears here
/// once and nowhere else (never in a log).
#[derive(Serialize)]
struct NewSecret {
    client_id: String,
    client_secret: String,
    /// When the previous secret stops working (Unix seconds).
    previous_valid_until: i64,
}

/// What `POST /admin/clients/{id}/secret/finish` did.
#[derive(Debug, Serialize)]
struct Finished {
    client_id: String,
    /// Whether there was a previous secret to retire.
    previous_retired: bool,
}

pub(super) async fn rotate_secret(
    State(auth): State<Arc<Authority>>,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    let result = rotate_client(&auth, &id, request).await;
    respond(&auth, "/admin/clients/secret", result)
}

async fn rotate_client(auth: &Authority, id: &str, request: Request) -> Result<NewSecret, Error> {
    let (parts, form) = Form::read(request).await?;
    let now = auth.clock.now();
    let claims = admin(auth, &parts.headers, now, "rotating a client secret").await?;
    let grace = match form.get("grace_seconds") {
        None => DEFAULT_GRACE_SECS,
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|s| (0..=MAX_GRACE_SECS).contains(s))
            .ok_or_else(|| {
                Error::InvalidRequest(
                    format!("grace_seconds must be a whole number from 0 to {MAX_GRACE_SECS}")
                        .into(),
                )
            })?,
    };
    let client = registered(auth, id)?;
    let (secret, until) = auth
        .clients
        .rotate(&auth.store, &client, grace, now)
        .await?;
    tracing::warn!(
        by = claims.sub,
        client = id,
        previous_valid_until = until,
        "client secret rotated"
    );
    Ok(NewSecret {
        client_id: id.to_owned(),
        client_secret: secret.expose().to_owned(),
        previous_valid_until: until,
    })
}

pub(super) async fn finish_secret(
    State(auth): State<Arc<Authority>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = finish_client(&auth, &id, &headers).await;
    respond(&auth, "/admin/clients/secret/finish", result)
}

async fn finish_client(auth: &Authority, id: &str, headers: &HeaderMap) -> Result<Finished, Error> {
    let now = auth.clock.now();
    let claims = admin(auth, headers, now, "finishing a secret rotation").await?;
    let client = registered(auth, id)?;
    let previous_retired = auth
        .clients
        .finish_rotation(&auth.store, &client, now)
        .await?;
    tracing::warn!(
        by = claims.sub,
        client = id,
        previous_retired,
        "client secret rotation finished"
    );
    Ok(Finished {
        client_id: id.to_owned(),
        previous_retired,
    })
}

/// The registered client `id`.
fn registered(auth: &Authority, id: &str) -> Result<Arc<crate::directory::Client>, Error> {
    auth.directory
        .client(id)
        .cloned()
        .ok_or_else(|| Error::InvalidRequest(format!("no registered client '{id}'").into()))
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
