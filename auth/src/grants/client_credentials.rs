//! `client_credentials` (RFC 6749 §4.4): a machine client gets a token for
//! itself. Never a refresh token: the client can always ask again.

use crate::{
    authority::Authority,
    config::ClientGrant,
    directory::Client,
    error::Error,
    grants::{GrantType, TokenResponse, grant_audience, grant_scope},
    tokens::TokenSpec,
};

/// Issues `client` a token for itself.
pub(crate) fn grant<'a>(
    auth: &Authority,
    client: &Client,
    scope: Option<&str>,
    audience: impl IntoIterator<Item = &'a str>,
    now: i64,
) -> Result<TokenResponse, Error> {
    if !client.grants.contains(&ClientGrant::ClientCredentials) {
        return Err(Error::UnauthorizedClient(
            "this client may not use client_credentials".into(),
        ));
    }
    let scope = grant_scope(scope, &client.scope)?;
    let aud = grant_audience(audience, &client.audiences, &client.default_audience)?;
    let spec = TokenSpec {
        sub: client.id.clone(),
        aud,
        client_id: client.id.clone(),
        scope,
        roles: client.roles.clone(),
        act: None,
        expires_by: None,
        root_jti: None,
    };
    let issued = auth.tokens.issue(spec, now)?;
    auth.metrics
        .token_issued(GrantType::ClientCredentials.label());
    Ok(TokenResponse::bearer(issued, now))
}
