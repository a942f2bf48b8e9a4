//! The token check itself, in the order that does the least work for a bad
//! token: size, shape, header, key, signature, then claims.

use std::{collections::HashMap, sync::Arc, time::Duration};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, Validation, errors::ErrorKind};
use serde::Deserialize;

use super::{
    AuthError, Claims, Clock, JwksClient, MAX_TOKEN_BYTES, Revocations,
    cache::{self, Entry, TokenCache},
};

/// What a validator accepts.
#[derive(Debug, Clone)]
pub struct ValidatorConfig {
    /// The only accepted `iss`.
    pub issuer: String,
    /// The audience that must be in `aud`: this workload's name.
    pub audience: String,
    /// The algorithm allow-list (asymmetric only).
    pub algorithms: Vec<Algorithm>,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`.
    pub skew: Duration,
    /// Verified tokens kept in the cache; 0 turns the cache off.
    pub cache_capacity: usize,
}

/// Validates access tokens. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Validator {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: ValidatorConfig,
    jwks: Arc<JwksClient>,
    /// What auth revoked; checked on every call, cache hits included.
    revocations: Option<Arc<Revocations>>,
    cache: TokenCache,
    clock: Arc<dyn Clock>,
    /// One prepared signature check per allowed algorithm. Time, issuer and
    /// audience are checked by us, with our clock and our reasons.
    validations: HashMap<Algorithm, Validation>,
}

/// The JOSE header fields that matter; anything else (`jwk`, `jku`, `x5u`,
/// `x5c`, …) is ignored and never fetched.
#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<serde_json::Value>,
}

impl Validator {
    /// A validator taking keys from `jwks` and time from `clock`, that
    /// knows of no revocation (tests and benchmarks of signatures alone).
    pub fn new(config: ValidatorConfig, jwks: Arc<JwksClient>, clock: Arc<dyn Clock>) -> Self {
        Self::with_revocations(config, jwks, None, clock)
    }

    /// A validator that also refuses what `revocations` holds, and fails
    /// closed while it is stale.
    pub fn with_revocations(
        config: ValidatorConfig,
        jwks: Arc<JwksClient>,
        revocations: Option<Arc<Revocations>>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let validations = config
            .algorithms
            .iter()
            .map(|alg| {
                let mut v = Validation::new(*alg);
                v.validate_exp = false;
                v.validate_nbf = false;
                v.validate_aud = false;
                v.required_spec_claims.clear();
                (*alg, v)
            })
            .collect();
        Self {
            inner: Arc::new(Inner {
                cache: TokenCache::new(config.cache_capacity),
                config,
                jwks,
                revocations,
                clock,
                validations,
            }),
        }
    }

    /// The key source.
    pub fn jwks(&self) -> &Arc<JwksClient> {
        &self.inner.jwks
    }

    /// The revocations this validator honours, if it follows any.
    pub fn revocations(&self) -> Option<&Arc<Revocations>> {
        self.inner.revocations.as_ref()
    }

    /// Waits until the keys and the revocation list are loaded, so a
    /// first call does not race the background fetches.
    pub async fn wait_ready(&self) {
        self.inner.jwks.wait_fresh().await;
        if let Some(revocations) = &self.inner.revocations {
            revocations.wait_fresh().await;
        }
    }

    /// Tokens currently in the verified-token cache.
    pub fn cached_tokens(&self) -> usize {
        self.inner.cache.len()
    }

    /// The audience this validator requires.
    pub fn audience(&self) -> &str {
        &self.inner.config.audience
    }

    /// Checks `token` and returns its claims.
    pub async fn validate(&self, token: &str) -> Result<Arc<Claims>, AuthError> {
        let inner = &*self.inner;
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::TooLarge);
        }
        if !inner.jwks.is_fresh() {
            return Err(AuthError::KeysUnavailable);
        }
        // Fail closed before any work when revocations cannot be known.
        let revocations = inner.revocations.as_deref();
        if revocations.is_some_and(|r| !r.is_fresh()) {
            return Err(AuthError::RevocationsUnavailable);
        }
        let revoked = |claims: &Claims| revocations.map_or(Ok(()), |r| r.check(claims));
        let now = inner.clock.now().as_secs();
        let key = cache::hash(token);
        if let Some(entry) = inner.cache.get(&key, now) {
            if inner.jwks.keys().contains(&entry.kid) {
                // A cached token may have been revoked since it was cached.
                revoked(&entry.claims)?;
                return Ok(entry.claims);
            }
            // The signing key was withdrawn: the token is no longer trusted.
            inner.cache.remove(&key);
            return Err(AuthError::UnknownKey);
        }
        let (claims, kid) = self.verify(token, now).await?;
        revoked(&claims)?;
        let claims = Arc::new(claims);
        inner.cache.insert(
            key,
            Entry {
                claims: claims.clone(),
                kid: kid.into(),
            },
        );
        Ok(claims)
    }

    async fn verify(&self, token: &str, now: u64) -> Result<(Claims, String), AuthError> {
        let inner = &*self.inner;
        let header = parse_header(token)?;
        // Exact, case-sensitive names only: "none", "None", "HS256" and
        // anything not configured are refused before any key is touched.
        let alg = header
            .alg
            .parse::<Algorithm>()
            .ok()
            .filter(|alg| inner.config.algorithms.contains(alg))
            .ok_or(AuthError::AlgorithmNotAllowed)?;
        let typ_ok = header.typ.as_deref().is_some_and(|t| {
            t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt")
        });
        if !typ_ok {
            return Err(AuthError::WrongType);
        }
        if header.crit.is_some() {
            // We understand no extension, so any `crit` is unsupported (RFC 7515 §4.1.11).
            return Err(AuthError::UnsupportedCrit);
        }
        let kid = header
            .kid
            .filter(|k| valid_kid(k))
            .ok_or(AuthError::BadKeyId)?;

        if !inner.jwks.keys().contains(&kid) {
            inner.jwks.refresh_for_unknown_kid().await;
        }
        let keys = inner.jwks.keys();
        let key = keys.get(&kid).ok_or(AuthError::UnknownKey)?;
        if key.alg != alg {
            return Err(AuthError::KeyAlgorithmMismatch);
        }
        let validation = inner
            .validations
            .get(&alg)
            .ok_or(AuthError::AlgorithmNotAllowed)?;
        let claims = jsonwebtoken::decode::<Claims>(token, &key.decoding, validation)
            .map_err(|e| match e.kind() {
                ErrorKind::Json(_)
                | ErrorKind::InvalidClaimFormat(_)
                | ErrorKind::MissingRequiredClaim(_) => AuthError::MalformedClaims,
                ErrorKind::Base64(_) | ErrorKind::Utf8(_) | ErrorKind::InvalidToken => {
                    AuthError::Malformed
                }
                ErrorKind::InvalidAlgorithm => AuthError::KeyAlgorithmMismatch,
                _ => AuthError::BadSignature,
            })?
            .claims;
        self.check_claims(&claims, now)?;
        Ok((claims, kid))
    }

    fn check_claims(&self, claims: &Claims, now: u64) -> Result<(), AuthError> {
        let config = &self.inner.config;
        let skew = config.skew.as_secs();
        if claims.iss != config.issuer {
            return Err(AuthError::WrongIssuer);
        }
        if !claims.aud.contains(&config.audience) {
            return Err(AuthError::WrongAudience);
        }
        if claims.exp.saturating_add(skew) <= now {
            return Err(AuthError::Expired);
        }
        if claims.nbf.is_some_and(|nbf| nbf > now.saturating_add(skew)) {
            return Err(AuthError::NotYetValid);
        }
        if claims.iat > now.saturating_add(skew) {
            return Err(AuthError::IssuedInFuture);
        }
        Ok(())
    }
}

/// Checks the compact shape (three non-empty base64url segments) and reads
/// the header.
fn parse_header(token: &str) -> Result<Header, AuthError> {
    let mut segments = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return Err(AuthError::Malformed);
    };
    let base64url = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if !(base64url(header) && base64url(payload) && base64url(signature)) {
        return Err(AuthError::Malformed);
    }
    let json = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| AuthError::Malformed)?;
    serde_json::from_slice(&json).map_err(|_| AuthError::Malformed)
}

/// A `kid` we are willing to look up: short, and of letters, digits, `-`,
/// `_` and `.` only (never a path, never SQL).
fn valid_kid(kid: &str) -> bool {
    !kid.is_empty()
        && kid.len() <= 128
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_checks_refuse_non_compact_tokens() {
        for bad in [
            "",
            "a.b",
            "a.b.c.d",
            "a.b.c.d.e",
            "a.b.",
            ".b.c",
            "a+b.c.d",
            "a.b=.c",
            "{\"payload\":\"x\",\"signatures\":[]}",
        ] {
            assert!(
                matches!(parse_header(bad), Err(AuthError::Malformed)),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn kids_are_plain_identifiers() {
        assert!(valid_kid("2026-11-29.es256"));
        for bad in [
            "",
            "../../etc/passwd",
            "k' OR 1=1 --",
            "a/b",
            &"k".repeat(129),
        ] {
            assert!(!valid_kid(bad), "{bad:?}");
        }
    }
}
