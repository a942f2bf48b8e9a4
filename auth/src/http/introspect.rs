//! `POST /oauth2/introspect` (RFC 7662): is this token active, and what
//! does it carry? Only authenticated clients may ask. Anything that is not
//! a currently valid token of ours answers `{"active": false}` and nothing
//! else, whatever the reason.

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    response::Response,
};
use serde::Serialize;

use super::{Form, respond};
use crate::{
    authority::Authority,
    directory::Client,
    error::Error,
    grants::refresh_token,
    tokens::{AccessClaims, Actor},
};

/// An introspection response. Only `active` is present when inactive.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Introspection {
    active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nbf: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    jti: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    roles: Option<Vec<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    act: Option<Actor>,
}

pub(super) async fn introspect(State(auth): State<Arc<Authority>>, request: Request) -> Response {
    let result = handle(&auth, request).await;
    respond(&auth, "/oauth2/introspect", result)
}

async fn handle(auth: &Authority, request: Request) -> Result<Introspection, Error> {
    let (parts, form) = Form::read(request).await?;
    let now = auth.clock.now();
    let client = super::authenticate_client(auth, &parts, &form, now).await?;
    let token = form.required("token")?;
    // The hint only orders the lookups (RFC 7662 §2.1).
    let refresh_first = form.get("token_type_hint") == Some("refresh_token");
    if refresh_first && let Some(found) = refresh(auth, &client, token, now).await? {
        return Ok(found);
    }
    if let Some(found) = access(auth, token, now).await? {
        return Ok(found);
    }
    if !refresh_first && let Some(found) = refresh(auth, &client, token, now).await? {
        return Ok(found);
    }
    Ok(Introspection::default())
}

async fn access(auth: &Authority, token: &str, now: i64) -> Result<Option<Introspection>, Error> {
    let claims = match auth.tokens.verify(token, now) {
        Ok(claims) => claims,
        Err(rejected) => {
            tracing::debug!(
                reason = rejected.0,
                "introspected token is not an active access token"
            );
            return Ok(None);
        }
    };
    if auth.store.is_revoked(&claims, now).await? {
        return Ok(None);
    }
    Ok(Some(Introspection::from(claims)))
}

impl From<AccessClaims> for Introspection {
    fn from(claims: AccessClaims) -> Self {
        let username = (claims.sub != claims.client_id).then(|| claims.sub.clone());
        Self {
            active: true,
            token_type: Some("Bearer"),
            scope: Some(claims.scope),
            client_id: Some(claims.client_id),
            username,
            sub: Some(claims.sub),
            aud: Some(claims.aud),
            iss: Some(claims.iss),
            exp: Some(claims.exp),
            iat: Some(claims.iat),
            nbf: Some(claims.nbf),
            jti: Some(claims.jti),
            roles: Some(claims.roles.iter().map(|r| r.as_str()).collect()),
            act: claims.act,
        }
    }
}

/// A refresh token is only described to the client it was issued to.
async fn refresh(
    auth: &Authority,
    client: &Client,
    token: &str,
    now: i64,
) -> Result<Option<Introspection>, Error> {
    if token.len() > 256 {
        return Ok(None);
    }
    let Some(record) = auth.store.find_refresh(&refresh_token::hash(token)).await? else {
        return Ok(None);
    };
    let active = record.client_id == client.id
        && record.used_at.is_none()
        && record.family_revoked_at.is_none()
        && record.expires_at > now;
    if !active {
        return Ok(None);
    }
    Ok(Some(Introspection {
        active: true,
        token_type: Some("refresh_token"),
        scope: Some(record.scope),
        client_id: Some(record.client_id),
        username: Some(record.subject.clone()),
        sub: Some(record.subject),
        iss: Some(auth.tokens.issuer().to_owned()),
        exp: Some(record.expires_at),
        iat: Some(record.issued_at),
        ..Introspection::default()
    }))
}
