//! `password` (RFC 6749 §4.3): a user gives a client their password.
//! Development only, off unless `--enable-password-grant`; RFC 9700
//! forbids it in production. Starts a refresh token family if the client
//! may refresh.

use crate::{
    authority::Authority,
    config::ClientGrant,
    directory::Client,
    error::Error,
    grants::{GrantType, TokenResponse, grant_audience, grant_scope, refresh_token},
    secret::Secret,
    tokens::TokenSpec,
};

/// The request's parameters.
#[derive(Debug)]
pub(crate) struct PasswordRequest<'a> {
    pub(crate) username: &'a str,
    pub(crate) password: Secret,
    pub(crate) scope: Option<&'a str>,
    pub(crate) audience: Vec<&'a str>,
    /// Where the request came from, for throttling guesses.
    pub(crate) address: Option<std::net::IpAddr>,
}

/// Issues a token for the user, through `client`.
pub(crate) async fn grant(
    auth: &Authority,
    client: &Client,
    request: PasswordRequest<'_>,
    now: i64,
) -> Result<TokenResponse, Error> {
    if !auth.settings.password_grant {
        return Err(Error::UnsupportedGrantType);
    }
    if !client.grants.contains(&ClientGrant::Password) {
        return Err(Error::UnauthorizedClient(
            "this client may not use the password grant".into(),
        ));
    }
    let user = auth
        .users
        .authenticate(request.username, &request.password, request.address, now)
        .await?;
    let allowed = client.scope.intersection(&user.scope);
    let scope = grant_scope(request.scope, &allowed)?;
    let aud = grant_audience(
        request.audience,
        &client.audiences,
        &client.default_audience,
    )?;
    let spec = TokenSpec {
        sub: user.username.clone(),
        aud,
        client_id: client.id.clone(),
        scope,
        roles: user.roles.clone(),
        act: None,
        expires_by: None,
        root_jti: None,
    };
    let issued = auth.tokens.issue(spec, now)?;
    let refresh = if client.grants.contains(&ClientGrant::RefreshToken) {
        Some(refresh_token::start_family(auth, &client.id, &issued, now).await?)
    } else {
        None
    };
    auth.metrics.token_issued(GrantType::Password.label());
    let mut response = TokenResponse::bearer(issued, now);
    response.refresh_token = refresh.map(|token| token.expose().to_owned());
    Ok(response)
}
