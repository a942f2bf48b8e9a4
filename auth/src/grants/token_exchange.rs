//! Token exchange (RFC 8693): a caller trades an access token it received
//! for a narrowed one addressed to another audience, carrying an `act`
//! claim that names the caller.
//!
//! Two doors, never mixed:
//! - mesh workloads exchange over the mutual-TLS gRPC API, identified by
//!   their certificate (the kit's verified [`PeerId`]), never by anything
//!   in the request; the subject token must be addressed to the workload;
//! - OAuth clients exchange at the public token endpoint, authenticated by
//!   their secret like every other grant; the subject token must have been
//!   issued to that client, and the audiences come from the client's own
//!   allow-list (`exchange_audiences`, none by default). A proxy's TLS
//!   identity counts for nothing there.
//!
//! Either way the subject token must be valid and unrevoked; the new
//! audience must be one the caller may exchange for; the scope is narrowed
//! to what that audience may receive (`audience_scopes` in the config) and
//! can only shrink further; the new token never outlives the old one.

use std::collections::BTreeSet;

use mesh::PeerId;

use crate::{
    authority::Authority,
    directory::Client,
    error::Error,
    grants::{ACCESS_TOKEN_TYPE, GrantType, JWT_TOKEN_TYPE, TokenResponse, grant_scope},
    scope::Scope,
    tokens::{AccessClaims, Actor, TokenSpec},
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

/// Who asks, as authenticated by the door it came through.
enum Exchanger<'a> {
    /// A mesh workload, by its mTLS certificate.
    Workload(&'a PeerId),
    /// An OAuth client, by its secret.
    Client(&'a Client),
}

impl Exchanger<'_> {
    /// The `sub` of the `act` claim.
    fn actor(&self) -> String {
        match self {
            Self::Workload(peer) => peer.spiffe_id().to_string(),
            Self::Client(client) => client.id.clone(),
        }
    }

    /// Whether `subject` was given to this caller to act on.
    fn holds(&self, subject: &AccessClaims) -> bool {
        match self {
            Self::Workload(peer) => subject.aud.iter().any(|a| a == peer.workload()),
            Self::Client(client) => subject.client_id == client.id,
        }
    }
}

/// Exchanges the subject token for workload `caller` (the gRPC door).
pub(crate) async fn grant(
    auth: &Authority,
    caller: &PeerId,
    request: ExchangeRequest<'_>,
    now: i64,
) -> Result<TokenResponse, Error> {
    let allowed = auth
        .directory
        .exchange_audiences(caller.workload())
        .ok_or_else(|| Error::UnauthorizedClient("this workload may not exchange tokens".into()))?;
    exchange(auth, Exchanger::Workload(caller), allowed, request, now).await
}

/// Exchanges the subject token for the authenticated OAuth `client` (the
/// public token endpoint).
pub(crate) async fn grant_for_client(
    auth: &Authority,
    client: &Client,
    request: ExchangeRequest<'_>,
    now: i64,
) -> Result<TokenResponse, Error> {
    let allowed = &client.exchange_audiences;
    exchange(auth, Exchanger::Client(client), allowed, request, now).await
}

async fn exchange(
    auth: &Authority,
    caller: Exchanger<'_>,
    allowed: &BTreeSet<String>,
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
            "actor_token is not supported: the actor is the authenticated caller".into(),
        ));
    }
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
    if !caller.holds(&subject) {
        return Err(invalid(
            "subject_token_not_for_caller",
            "the subject token was not issued to the caller",
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
    let narrowed = subject_scope.intersection(&auth.directory.exchange_scope(&aud));
    let scope = grant_scope(request.scope, &narrowed)?;
    let spec = TokenSpec {
        sub: subject.sub,
        aud,
        client_id: subject.client_id,
        scope,
        roles: subject.roles,
        act: Some(Actor {
            sub: caller.actor(),
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
