//! Token exchange (RFC 8693): a mesh workload trades the access token it
//! received for a narrowed one addressed to the next hop, carrying an `act`
//! claim that names the workload.
//!
//! Only mesh workloads may exchange, identified by their mTLS certificate
//! (the kit's verified [`PeerId`]), never by anything in the request. The
//! subject token must be valid, unrevoked and addressed to the caller; the
//! new audience must be one the config lets that workload exchange for;
//! the scope can only shrink; the new token never outlives the old one.

use mesh::PeerId;

use crate::{
    authority::Authority,
    error::Error,
    grants::{ACCESS_TOKEN_TYPE, GrantType, JWT_TOKEN_TYPE, TokenResponse, grant_scope},
    scope::Scope,
    tokens::{Actor, TokenSpec},
};

/// Longest delegation chain accepted (`act` nesting).
const MAX_DELEGATION_DEPTH: usize = 4;

/// The request's parameters.
#[derive(Debug, Default)]
pub(crate) struct ExchangeRequest<'a> {
    pub(crate) subject_token: &'a str,
    pub(crate) subject_token_type: &'a str,
    pub(crate) requested_token_type: Option<&'a str>,
    pub(crate) audience: Vec<&'a str>,
    pub(crate) scope: Option<&'a str>,
    pub(crate) has_actor_token: bool,
}

/// Exchanges the subject token for workload `caller`.
pub(crate) async fn grant(
    auth: &Authority,
    caller: &PeerId,
    request: ExchangeRequest<'_>,
    now: i64,
) -> Result<TokenResponse, Error> {
    let token_type_ok = |t: &str| t == ACCESS_TOKEN_TYPE || t == JWT_TOKEN_TYPE;
    if !token_type_ok(request.subject_token_type) {
        return Err(Error::InvalidRequest(
            "subject_token_type must be an access token".into(),
        ));
    }
    if request
        .requested_token_type
        .is_some_and(|t| !token_type_ok(t))
    {
        return Err(Error::InvalidRequest(
            "only access tokens can be requested".into(),
        ));
    }
    if request.has_actor_token {
        return Err(Error::InvalidRequest(
            "actor_token is not supported: the actor is the calling workload".into(),
        ));
    }
    let workload = caller.workload();
    let allowed = auth
        .directory
        .exchange_audiences(workload)
        .ok_or_else(|| Error::UnauthorizedClient("this workload may not exchange tokens".into()))?;
    if request.audience.is_empty() {
        return Err(Error::InvalidRequest("missing parameter 'audience'".into()));
    }
    let aud = crate::grants::grant_audience(request.audience, allowed, &[])?;

    let invalid = |reason: &'static str, description: &'static str| Error::InvalidGrant {
        reason,
        description: description.into(),
    };
    let subject = auth
        .tokens
        .verify(request.subject_token, now)
        .map_err(|rejected| invalid(rejected.0, "the subject token is invalid or expired"))?;
    if auth.store.is_revoked(&subject, now).await? {
        return Err(invalid(
            "subject_token_revoked",
            "the subject token was revoked",
        ));
    }
    if !subject.aud.iter().any(|a| a == workload) {
        return Err(invalid(
            "subject_token_not_for_caller",
            "the subject token is not addressed to the calling workload",
        ));
    }
    let chain = subject.act.map(Box::new);
    if chain
        .as_ref()
        .is_some_and(|a| a.depth() >= MAX_DELEGATION_DEPTH)
    {
        return Err(invalid(
            "delegation_too_deep",
            "the delegation chain is too long",
        ));
    }
    let subject_scope = if subject.scope.is_empty() {
        Scope::default()
    } else {
        Scope::parse(&subject.scope).map_err(|_| invalid("malformed_token", "bad subject scope"))?
    };
    let scope = grant_scope(request.scope, &subject_scope)?;
    let spec = TokenSpec {
        sub: subject.sub,
        aud,
        client_id: subject.client_id,
        scope,
        roles: subject.roles,
        act: Some(Actor {
            sub: caller.spiffe_id().to_string(),
            act: chain,
        }),
        expires_by: Some(subject.exp),
        // The chain's first token: revoking it revokes every hop.
        root_jti: Some(subject.root_jti.unwrap_or(subject.jti)),
    };
    let issued = auth.tokens.issue(spec, now)?;
    auth.metrics.token_issued(GrantType::TokenExchange.label());
    let mut response = TokenResponse::bearer(issued, now);
    response.issued_token_type = Some(ACCESS_TOKEN_TYPE);
    Ok(response)
}
