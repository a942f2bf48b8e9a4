//! The grants of the token endpoint, independent of HTTP: each takes an
//! authenticated caller and the request's parameters and returns a token
//! response or an [`Error`]. The gRPC service calls the same functions.
//!
//! Every grant narrows: the scope it issues is a subset of what was asked
//! for, and what was asked for must be a subset of what the client (and
//! the user, or the subject token) may have ([`grant_scope`]).

pub(crate) mod client_credentials;
pub(crate) mod password;
pub(crate) mod refresh_token;
pub(crate) mod token_exchange;
pub(crate) mod workload;

use std::collections::BTreeSet;

use serde::Serialize;

use crate::{error::Error, scope::Scope, tokens::Issued};

/// `grant_type` of RFC 8693 token exchange.
pub(crate) const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// RFC 8693 token type of an access token.
pub(crate) const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
/// RFC 8693 token type of a JWT (our access tokens are JWTs).
pub(crate) const JWT_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";
/// Most audiences one token may name.
const MAX_AUDIENCES: usize = 8;

/// A `grant_type` this server knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GrantType {
    ClientCredentials,
    Password,
    RefreshToken,
    TokenExchange,
}

impl GrantType {
    /// The grant named by a `grant_type` parameter.
    pub(crate) fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "client_credentials" => Self::ClientCredentials,
            "password" => Self::Password,
            "refresh_token" => Self::RefreshToken,
            TOKEN_EXCHANGE => Self::TokenExchange,
            _ => return None,
        })
    }

    /// The `grant_type` value, as listed in the discovery document.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::ClientCredentials => "client_credentials",
            Self::Password => "password",
            Self::RefreshToken => "refresh_token",
            Self::TokenExchange => TOKEN_EXCHANGE,
        }
    }

    /// The `grant_type` label of `mesh_tokens_issued_total`.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::TokenExchange => "token_exchange",
            other => other.as_str(),
        }
    }
}

/// A successful token response (RFC 6749 §5.1, RFC 8693 §2.2.1).
#[derive(Serialize)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: String,
    pub(crate) token_type: &'static str,
    pub(crate) expires_in: i64,
    pub(crate) scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) issued_token_type: Option<&'static str>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl TokenResponse {
    /// A bearer token response for `issued`, valid from `now`.
    pub(crate) fn bearer(issued: Issued, now: i64) -> Self {
        Self {
            expires_in: issued.claims.exp - now,
            scope: issued.claims.scope,
            access_token: issued.token,
            token_type: "Bearer",
            refresh_token: None,
            issued_token_type: None,
        }
    }
}

/// The scope to issue: the requested one, which must lie within `allowed`,
/// or all of `allowed` if none was requested (RFC 6749 §3.3).
pub(crate) fn grant_scope(requested: Option<&str>, allowed: &Scope) -> Result<Scope, Error> {
    let Some(requested) = requested else {
        return Ok(allowed.clone());
    };
    let requested =
        Scope::parse(requested).map_err(|e| Error::InvalidScope(e.to_string().into()))?;
    if !requested.is_subset(allowed) {
        return Err(Error::InvalidScope(
            "the requested scope exceeds what this client may be granted".into(),
        ));
    }
    Ok(requested)
}

/// The audiences to issue for: the requested ones (`audience`, `resource`),
/// each of which must be in `allowed`, or `default` if none was requested.
pub(crate) fn grant_audience<'a>(
    requested: impl IntoIterator<Item = &'a str>,
    allowed: &BTreeSet<String>,
    default: &[String],
) -> Result<Vec<String>, Error> {
    let mut audience = BTreeSet::new();
    for name in requested {
        if !allowed.contains(name) {
            return Err(Error::InvalidTarget(
                "a requested audience is unknown or not allowed for this client".into(),
            ));
        }
        audience.insert(name.to_owned());
        if audience.len() > MAX_AUDIENCES {
            return Err(Error::InvalidTarget("too many audiences".into()));
        }
    }
    if audience.is_empty() {
        return Ok(default.to_vec());
    }
    Ok(audience.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_is_narrowed_never_widened() {
        let allowed = Scope::parse("orders:read orders:write").expect("valid");
        assert_eq!(grant_scope(None, &allowed).expect("default"), allowed);
        let narrowed = grant_scope(Some("orders:read"), &allowed).expect("subset");
        assert_eq!(narrowed.to_string(), "orders:read");
        let error = grant_scope(Some("orders:read admin"), &allowed).expect_err("superset");
        assert_eq!(error.code(), "invalid_scope");
        assert_eq!(
            grant_scope(Some("bad\"scope"), &allowed)
                .expect_err("syntax")
                .code(),
            "invalid_scope"
        );
    }

    #[test]
    fn audiences_come_from_the_allowed_list() {
        let allowed: BTreeSet<String> = ["gateway", "orders"].map(str::to_owned).into();
        let default = vec!["gateway".to_owned()];
        assert_eq!(
            grant_audience([], &allowed, &default).expect("default"),
            default
        );
        assert_eq!(
            grant_audience(["orders", "orders"], &allowed, &default).expect("ok"),
            ["orders"]
        );
        assert_eq!(
            grant_audience(["payments"], &allowed, &default)
                .expect_err("not allowed")
                .code(),
            "invalid_target"
        );
    }
}
