//! Access tokens (RFC 9068 `at+jwt`): the claims, signing, and checking
//! the server's own tokens when they come back (introspection, token
//! exchange, admin calls).
//!
//! Checking follows RFC 8725: a size bound before any decoding, the exact
//! `typ`, no `crit`, the key chosen by `kid` among the keys in memory
//! only (never from `jwk`/`jku`/`x5u`/`x5c` headers), the algorithm fixed
//! by that key, `iss` checked, and times checked against our clock.

use std::{collections::HashSet, sync::Arc};

use mesh::Role;
use serde::{Deserialize, Serialize, Serializer};

use crate::{
    keys::{KeyError, Keyring},
    scope::Scope,
};

/// Tokens longer than this are refused before any decoding.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The issuer URL.
    pub iss: String,
    /// The user, or the client itself for `client_credentials`.
    pub sub: String,
    /// The workloads the token is for.
    pub aud: Vec<String>,
    /// The client the token was issued to.
    pub client_id: String,
    /// Space-separated scopes.
    pub scope: String,
    /// The subject's roles.
    #[serde(serialize_with = "serialize_roles")]
    pub roles: Vec<Role>,
    /// Issued at.
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// Expires at.
    pub exp: i64,
    /// Unique id, for revocation.
    pub jti: String,
    /// The delegation chain of a token made by token exchange (RFC 8693 §4.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Actor>,
    /// The `jti` of the token an exchange chain started from. Revoking
    /// that token revokes this one too: workloads check both against the
    /// revocation feed, so auth need not remember what it exchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_jti: Option<String>,
}

/// Roles as written in tokens: `"ADMIN"`, `"MANAGER"`, `"USER"`.
pub(crate) fn serialize_roles<S: Serializer>(roles: &[Role], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(roles.iter().map(|role| role.as_str()))
}

/// An actor in a delegation chain: who holds the token on the subject's behalf.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// Who acts: a mesh workload's SPIFFE ID, or the id of the OAuth
    /// client that exchanged the token at the public endpoint.
    pub sub: String,
    /// The actor before it, if the token was exchanged more than once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Box<Actor>>,
}

impl Actor {
    /// How many actors the chain holds.
    pub fn depth(&self) -> usize {
        1 + self.act.as_ref().map_or(0, |a| a.depth())
    }
}

/// What a grant decided to put in a token.
#[derive(Debug)]
pub(crate) struct TokenSpec {
    pub(crate) sub: String,
    pub(crate) aud: Vec<String>,
    pub(crate) client_id: String,
    pub(crate) scope: Scope,
    pub(crate) roles: Vec<Role>,
    pub(crate) act: Option<Actor>,
    /// The token must not outlive this (an exchanged token its subject token).
    pub(crate) expires_by: Option<i64>,
    /// The `jti` an exchanged token's chain started from.
    pub(crate) root_jti: Option<String>,
}

/// A signed token and its claims.
#[derive(Debug)]
pub(crate) struct Issued {
    pub(crate) token: String,
    pub(crate) claims: AccessClaims,
}

/// Why a presented token is not a valid access token of ours. The reason
/// is a short label for metrics and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("token rejected: {0}")]
pub(crate) struct Rejected(pub(crate) &'static str);

/// Signs and checks access tokens.
#[derive(Debug)]
pub(crate) struct Tokens {
    issuer: String,
    /// Lifetime in seconds.
    ttl: i64,
    /// Tolerated clock difference with token holders, in seconds.
    skew: i64,
    keys: Arc<Keyring>,
}

impl Tokens {
    pub(crate) fn new(issuer: String, ttl: i64, skew: i64, keys: Arc<Keyring>) -> Self {
        Self {
            issuer,
            ttl,
            skew,
            keys,
        }
    }

    /// The longest a token issued now may still be accepted somewhere:
    /// its lifetime plus the skew validators allow. A subject's not-before
    /// matters no longer than this.
    pub(crate) fn max_lifetime(&self) -> i64 {
        self.ttl.saturating_add(self.skew)
    }

    /// The issuer URL (`iss`).
    pub(crate) fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Signs a token for `spec`, valid from `now`.
    pub(crate) fn issue(&self, spec: TokenSpec, now: i64) -> Result<Issued, KeyError> {
        let lifetime_end = now.saturating_add(self.ttl);
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            sub: spec.sub,
            aud: spec.aud,
            client_id: spec.client_id,
            scope: spec.scope.to_string(),
            roles: spec.roles,
            iat: now,
            nbf: now,
            exp: spec
                .expires_by
                .map_or(lifetime_end, |cap| cap.min(lifetime_end)),
            jti: uuid::Uuid::new_v4().to_string(),
            act: spec.act,
            root_jti: spec.root_jti,
        };
        let json = serde_json::to_vec(&claims).map_err(|_| KeyError::Crypto("claims encoding"))?;
        let token = self.keys.signer(now)?.sign_jwt(&json)?;
        Ok(Issued { token, claims })
    }

    /// The claims of `token` if it is a valid, unexpired access token
    /// signed by one of our published keys. Revocation is checked by the
    /// caller (it needs the database).
    pub(crate) fn verify(&self, token: &str, now: i64) -> Result<AccessClaims, Rejected> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Rejected("token_too_large"));
        }
        if token.split('.').count() != 3 {
            return Err(Rejected("malformed_token"));
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| Rejected("malformed_token"))?;
        let typ_ok = header.typ.as_deref().is_some_and(|typ| {
            typ.eq_ignore_ascii_case("at+jwt") || typ.eq_ignore_ascii_case("application/at+jwt")
        });
        if !typ_ok {
            return Err(Rejected("wrong_token_type"));
        }
        if header.crit.is_some() {
            return Err(Rejected("unsupported_crit"));
        }
        let kid = header.kid.as_deref().ok_or(Rejected("no_kid"))?;
        let key = self
            .keys
            .verifier(kid, now)
            .ok_or(Rejected("unknown_kid"))?;
        if header.alg != key.alg().jwt() {
            return Err(Rejected("wrong_algorithm"));
        }
        let mut validation = jsonwebtoken::Validation::new(key.alg().jwt());
        // Times are checked below against our clock, audiences by callers.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.leeway = 0;
        validation.required_spec_claims = HashSet::new();
        validation.set_issuer(&[&self.issuer]);
        let claims = jsonwebtoken::decode::<AccessClaims>(token, key.decoding_key(), &validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => Rejected("bad_signature"),
                jsonwebtoken::errors::ErrorKind::InvalidIssuer => Rejected("wrong_issuer"),
                _ => Rejected("malformed_token"),
            })?
            .claims;
        if claims.exp <= now {
            return Err(Rejected("token_expired"));
        }
        if claims.nbf > now + self.skew || claims.iat > now + self.skew {
            return Err(Rejected("token_not_yet_valid"));
        }
        Ok(claims)
    }
}
