//! `POST /oauth2/token`: reads the form, authenticates the caller and hands
//! the parameters to the grant.
//!
//! Clients authenticate with their secret; token exchange is the exception:
//! its caller is the mesh workload proven by the TLS client certificate.

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    http::request::Parts,
    response::Response,
};
use mesh::{PeerId, peer::ConnInfo};

use super::{Form, respond};
use crate::{
    authority::Authority,
    clients::ClientCredentials,
    error::Error,
    grants::{
        GrantType, TokenResponse, client_credentials,
        password::{self, PasswordRequest},
        refresh_token,
        token_exchange::{self, ExchangeRequest},
    },
    secret::Secret,
};

pub(super) async fn token(State(auth): State<Arc<Authority>>, request: Request) -> Response {
    let result = handle(&auth, request).await;
    respond(&auth, "/oauth2/token", result)
}

async fn handle(auth: &Authority, request: Request) -> Result<TokenResponse, Error> {
    let (parts, form) = Form::read(request).await?;
    let grant =
        GrantType::parse(form.required("grant_type")?).ok_or(Error::UnsupportedGrantType)?;
    let now = auth.clock.now();
    if grant == GrantType::TokenExchange {
        let caller = workload(&parts)?;
        let request = ExchangeRequest {
            subject_token: form.required("subject_token")?,
            subject_token_type: form.required("subject_token_type")?,
            requested_token_type: form.get("requested_token_type"),
            audience: form.all("audience").chain(form.all("resource")).collect(),
            scope: form.get("scope"),
            has_actor_token: form.get("actor_token").is_some(),
        };
        return token_exchange::grant(auth, &caller, request, now).await;
    }
    if grant == GrantType::Password && !auth.settings.password_grant {
        return Err(Error::UnsupportedGrantType);
    }
    let credentials = ClientCredentials::from_request(&parts.headers, &form)?;
    let client = auth.clients.authenticate(&credentials, now).await?;
    let audience = || form.all("audience").chain(form.all("resource"));
    match grant {
        GrantType::ClientCredentials => {
            client_credentials::grant(auth, &client, form.get("scope"), audience(), now)
        }
        GrantType::Password => {
            let request = PasswordRequest {
                username: form.required("username")?,
                password: Secret::new(form.required("password")?),
                scope: form.get("scope"),
                audience: audience().collect(),
            };
            password::grant(auth, &client, request, now).await
        }
        GrantType::RefreshToken => {
            let token = Secret::new(form.required("refresh_token")?);
            refresh_token::grant(auth, &client, &token, form.get("scope"), now).await
        }
        GrantType::TokenExchange => Err(Error::UnsupportedGrantType),
    }
}

/// The mesh workload on the other end of the TLS connection, as verified
/// by `mesh::https` from its client certificate.
fn workload(parts: &Parts) -> Result<PeerId, Error> {
    let peer = parts
        .extensions
        .get::<ConnInfo>()
        .and_then(|info| info.peer.as_ref().as_ref().ok().cloned());
    peer.ok_or(Error::InvalidClient {
        reason: "no_workload_identity",
        retry_after: None,
    })
}
