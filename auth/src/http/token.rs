//! `POST /oauth2/token`: reads the form, authenticates the caller and hands
//! the parameters to the grant.
//!
//! Every grant, token exchange included, authenticates the OAuth client by
//! its secret (RFC 6749 §2.3). The TLS peer's workload identity plays no
//! part here: this port is the public door, and a proxy in front of it
//! (the gateway) must not lend its identity to the requests it forwards.
//! Workloads exchange tokens over the mutual-TLS gRPC API instead.

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    response::Response,
};

use super::{Form, respond};
use crate::{
    authority::Authority,
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
    mesh::https::record_grant_type(grant.label());
    let now = auth.clock.now();
    if grant == GrantType::Password && !auth.settings.password_grant {
        return Err(Error::UnsupportedGrantType);
    }
    let client = super::authenticate_client(auth, &parts, &form, now).await?;
    let address = super::client_address(auth, &parts);
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
                address,
            };
            password::grant(auth, &client, request, now).await
        }
        GrantType::RefreshToken => {
            let token = Secret::new(form.required("refresh_token")?);
            refresh_token::grant(auth, &client, &token, form.get("scope"), now).await
        }
        GrantType::TokenExchange => {
            let request = ExchangeRequest {
                subject_token: form.required("subject_token")?,
                subject_token_type: form.required("subject_token_type")?,
                requested_token_type: form.get("requested_token_type"),
                audience: audience().collect(),
                scope: form.get("scope"),
                has_actor_token: form.get("actor_token").is_some(),
            };
            token_exchange::grant_for_client(auth, &client, request, now).await
        }
    }
}
