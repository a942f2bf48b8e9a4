//! Client authentication (RFC 6749 §2.3): `client_secret_basic` and
//! `client_secret_post`, checked against argon2id hashes.
//!
//! Failures answer `invalid_client` without saying whether the client
//! exists: an unknown client costs the same hash check as a known one, and
//! is throttled under its own id exactly like a known one. Repeated
//! failures are slowed down per client and address ([`Throttle`]).
//!
//! During a rotation ([`crate::rotation`]) a client has two valid secrets;
//! each authentication is counted by which one it used.
//!
//! A correct secret is remembered for a few minutes as an HMAC under a key
//! that exists only in this process, so a busy machine client does not pay
//! an argon2 check (tens of milliseconds of CPU) on every token request.
//! The cache holds at most one entry per registered client and is compared
//! in constant time; the secret itself is never kept.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex, PoisonError},
};

use aws_lc_rs::hmac;
use axum::http::{HeaderMap, HeaderValue, header};
use base64::{Engine, engine::general_purpose::STANDARD};
use subtle::ConstantTimeEq;

use crate::{
    directory::{Client, Directory},
    error::Error,
    http::Form,
    metrics::Metrics,
    password::{HashParams, Hasher},
    rotation::{Generation, Rotations},
    secret::{Secret, random_bytes},
    store::Store,
    throttle::{Throttle, ThrottlePolicy},
};

/// Longest client id accepted before any work is done.
const MAX_ID_LEN: usize = 128;
/// Longest client secret accepted before any work is done.
const MAX_SECRET_LEN: usize = 512;
/// How long a verified secret is remembered, in seconds.
const VERIFIED_TTL: i64 = 300;

/// A client id and secret, as presented.
#[derive(Debug)]
pub(crate) struct ClientCredentials {
    pub(crate) id: String,
    pub(crate) secret: Secret,
}

impl ClientCredentials {
    /// Reads the credentials from `Authorization: Basic` or from the form.
    /// Using both methods at once is an error (RFC 6749 §2.3).
    pub(crate) fn from_request(headers: &HeaderMap, form: &Form) -> Result<Self, Error> {
        let mut values = headers.get_all(header::AUTHORIZATION).iter();
        let (header, extra) = (values.next(), values.next());
        if extra.is_some() {
            return Err(Error::InvalidRequest(
                "more than one Authorization header".into(),
            ));
        }
        let credentials = match header {
            Some(value) => {
                if form.get("client_secret").is_some() {
                    return Err(Error::InvalidRequest(
                        "use one client authentication method, not two".into(),
                    ));
                }
                let credentials = parse_basic(value)?;
                if form.get("client_id").is_some_and(|id| id != credentials.id) {
                    return Err(Error::InvalidRequest(
                        "client_id does not match the Authorization header".into(),
                    ));
                }
                credentials
            }
            None => match (form.get("client_id"), form.get("client_secret")) {
                (Some(id), Some(secret)) => Self {
                    id: id.to_owned(),
                    secret: Secret::new(secret),
                },
                _ => return Err(invalid("no_client_credentials")),
            },
        };
        if credentials.id.len() > MAX_ID_LEN || credentials.secret.expose().len() > MAX_SECRET_LEN {
            return Err(invalid("oversized_client_credentials"));
        }
        Ok(credentials)
    }
}

fn invalid(reason: &'static str) -> Error {
    Error::InvalidClient {
        reason,
        retry_after: None,
    }
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))`.
fn parse_basic(value: &HeaderValue) -> Result<ClientCredentials, Error> {
    let malformed = || invalid("malformed_basic_auth");
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, encoded) = value.split_once(' ').ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(invalid("unsupported_auth_scheme"));
    }
    if encoded.len() > 4 * (MAX_ID_LEN + MAX_SECRET_LEN) {
        return Err(invalid("oversized_client_credentials"));
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    Ok(ClientCredentials {
        id: form_decode(id).ok_or_else(malformed)?,
        secret: Secret::new(form_decode(secret).ok_or_else(malformed)?),
    })
}

/// Undoes `application/x-www-form-urlencoded` (`+` and `%XX`).
fn form_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                if !hex.iter().all(u8::is_ascii_hexdigit) {
                    return None;
                }
                out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Checks client credentials.
#[derive(Debug)]
pub(crate) struct ClientAuthenticator {
    directory: Arc<Directory>,
    hasher: Hasher,
    throttle: Throttle,
    /// Only the current generation is cached, so a retired or expired
    /// previous secret is never accepted from the cache.
    verified: VerifiedCache,
    rotations: Rotations,
    /// One rotation at a time: each builds on the current secret.
    rotating: tokio::sync::Mutex<()>,
    metrics: Metrics,
}

impl ClientAuthenticator {
    pub(crate) fn new(
        directory: Arc<Directory>,
        hasher: Hasher,
        policy: ThrottlePolicy,
        rotations: Rotations,
        metrics: Metrics,
    ) -> Self {
        for id in directory.client_ids() {
            metrics.init_client(id);
        }
        for (id, until) in rotations.previous_expiries() {
            metrics.previous_secret_until(&id, until);
        }
        Self {
            directory,
            hasher,
            throttle: Throttle::new(policy),
            verified: VerifiedCache::new(),
            rotations,
            rotating: tokio::sync::Mutex::new(()),
            metrics,
        }
    }

    /// The client these credentials prove, or `invalid_client`, for a
    /// request from `address`.
    pub(crate) async fn authenticate(
        &self,
        credentials: &ClientCredentials,
        address: Option<IpAddr>,
        now: i64,
    ) -> Result<Arc<Client>, Error> {
        let key = format!("client:{}", credentials.id);
        if let Err(refused) = self.throttle.check(&key, address, now) {
            return Err(Error::InvalidClient {
                reason: if refused.global {
                    "client_backoff_global"
                } else {
                    "client_backoff"
                },
                retry_after: Some(refused.wait),
            });
        }
        let Some(client) = self.directory.client(&credentials.id) else {
            if let Some(decoy) = self.directory.any_client_hash() {
                self.hasher.verify(decoy, &credentials.secret).await;
            }
            self.throttle.failure(&key, address, now);
            return Err(invalid("unknown_client"));
        };
        if let Some(generation) = self.check(client, &credentials.secret, now).await {
            self.metrics.secret_used(&client.id, generation.label());
            self.throttle.success(&key, address);
            return Ok(client.clone());
        }
        self.throttle.failure(&key, address, now);
        Err(invalid("bad_client_secret"))
    }

    /// Which of `client`'s valid secrets `secret` is, if any.
    async fn check(&self, client: &Client, secret: &Secret, now: i64) -> Option<Generation> {
        // A rotation between reading the hashes and remembering the
        // secret changes the epoch, and the cache then ignores the entry.
        let epoch = self.rotations.epoch();
        if self.verified.contains(&client.id, secret, now, epoch) {
            return Some(Generation::Current);
        }
        let (current, previous) = self.rotations.hashes(client, now);
        if self.hasher.verify(&current, secret).await {
            self.verified.insert(&client.id, secret, now, epoch);
            return Some(Generation::Current);
        }
        match previous {
            Some(previous) if self.hasher.verify(&previous, secret).await => {
                Some(Generation::Previous)
            }
            _ => None,
        }
    }

    /// Starts a rotation of `client`'s secret: a new random secret becomes
    /// current (returned, to be shown once) and today's stays valid for
    /// `grace_secs` more. Stored before it takes effect.
    pub(crate) async fn rotate(
        &self,
        store: &Store,
        client: &Client,
        grace_secs: i64,
        now: i64,
    ) -> Result<(Secret, i64), Error> {
        let _one_at_a_time = self.rotating.lock().await;
        if self.rotations.in_grace(client, now) {
            // A second rotation would end the first one's grace at once.
            return Err(Error::InvalidRequest(
                "a rotation of this client is in its grace period: finish it first \
                 (POST .../secret/finish, meshctl secrets rotate --finish)"
                    .into(),
            ));
        }
        let secret = Secret::generate();
        let hash = self
            .hasher
            .hash(&secret, HashParams::default())
            .await
            .map_err(|e| Error::internal("hashing the new secret", e))?;
        let until = now.saturating_add(grace_secs);
        let row = self.rotations.rotated(client, &hash, until, now);
        store.save_client_secrets(&row, now).await?;
        self.rotations
            .apply(&row)
            .map_err(|e| Error::internal("rotation", e))?;
        self.metrics.previous_secret_until(&client.id, until);
        Ok((secret, until))
    }

    /// Retires `client`'s previous secret now; `false` if it had none.
    pub(crate) async fn finish_rotation(
        &self,
        store: &Store,
        client: &Client,
        now: i64,
    ) -> Result<bool, Error> {
        let _one_at_a_time = self.rotating.lock().await;
        let Some(row) = self.rotations.finished(client, now) else {
            return Ok(false);
        };
        store.save_client_secrets(&row, now).await?;
        self.rotations
            .apply(&row)
            .map_err(|e| Error::internal("rotation", e))?;
        self.metrics.previous_secret_until(&client.id, 0);
        Ok(true)
    }
}

/// Recently verified client secrets, as keyed HMACs.
struct VerifiedCache {
    key: hmac::Key,
    /// Client id to (tag, expiry, rotation epoch).
    entries: Mutex<HashMap<String, (hmac::Tag, i64, u64)>>,
}

impl std::fmt::Debug for VerifiedCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedCache").finish_non_exhaustive()
    }
}

impl VerifiedCache {
    fn new() -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, &random_bytes::<32>()),
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn tag(&self, id: &str, secret: &Secret) -> hmac::Tag {
        let mut context = hmac::Context::with_key(&self.key);
        context.update(id.as_bytes());
        context.update(&[0]);
        context.update(secret.expose().as_bytes());
        context.sign()
    }

    fn contains(&self, id: &str, secret: &Secret, now: i64, epoch: u64) -> bool {
        let tag = self.tag(id, secret);
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.get(id).is_some_and(|(known, expires, at)| {
            *expires > now && *at == epoch && bool::from(known.as_ref().ct_eq(tag.as_ref()))
        })
    }

    /// Only called for registered clients, so the map stays bounded.
    fn insert(&self, id: &str, secret: &Secret, now: i64, epoch: u64) {
        let tag = self.tag(id, secret);
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let fresh = entries.get(id).is_some_and(|(known, expires, at)| {
            *expires > now && *at == epoch && bool::from(known.as_ref().ct_eq(tag.as_ref()))
        });
        if !fresh {
            entries.insert(id.to_owned(), (tag, now + VERIFIED_TTL, epoch));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, value.parse().expect("header"));
        headers
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        // "my%20client:s%3Acret+x" → id "my client", secret "s:cret x"
        let encoded = STANDARD.encode("my%20client:s%3Acret+x");
        let creds = ClientCredentials::from_request(
            &headers(&format!("Basic {encoded}")),
            &Form::default(),
        )
        .expect("valid");
        assert_eq!(creds.id, "my client");
        assert!(creds.secret.ct_eq("s:cret x"));
    }

    #[test]
    fn two_methods_or_none_are_refused() {
        let encoded = STANDARD.encode("a:b");
        let form = Form::parse(b"client_id=a&client_secret=b").expect("form");
        let both = ClientCredentials::from_request(&headers(&format!("Basic {encoded}")), &form);
        assert_eq!(both.expect_err("two methods").code(), "invalid_request");
        let none = ClientCredentials::from_request(&HeaderMap::new(), &Form::default());
        assert_eq!(none.expect_err("none").code(), "invalid_client");
        let bearer = ClientCredentials::from_request(&headers("Bearer abc"), &Form::default());
        assert_eq!(bearer.expect_err("bearer").code(), "invalid_client");
        let garbage = ClientCredentials::from_request(&headers("Basic !!!"), &Form::default());
        assert_eq!(garbage.expect_err("garbage").code(), "invalid_client");
    }

    #[test]
    fn form_decoding_rejects_broken_escapes() {
        assert_eq!(form_decode("a%2Bb+c").as_deref(), Some("a+b c"));
        assert_eq!(form_decode("%"), None);
        assert_eq!(form_decode("%+1"), None);
        assert_eq!(form_decode("%FF"), None);
    }

    #[test]
    fn the_verified_cache_matches_only_the_same_secret() {
        let cache = VerifiedCache::new();
        cache.insert("gateway", &Secret::new("right"), 100, 0);
        assert!(cache.contains("gateway", &Secret::new("right"), 399, 0));
        assert!(
            !cache.contains("gateway", &Secret::new("right"), 400, 0),
            "expired"
        );
        assert!(!cache.contains("gateway", &Secret::new("wrong"), 101, 0));
        assert!(!cache.contains("loadgen", &Secret::new("right"), 101, 0));
        assert!(
            !cache.contains("gateway", &Secret::new("right"), 101, 1),
            "verified before a rotation"
        );
    }
}
