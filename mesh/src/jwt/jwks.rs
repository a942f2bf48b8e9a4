//! The JWKS client: where verification keys come from.
//!
//! Keys are fetched from `auth` over mutual TLS and only ever looked up by
//! `kid` in the fetched set: never from a token's `jwk`, `jku`, `x5u` or
//! `x5c` header, and never from a file or a database. A refresh happens in
//! the background, and on an unknown `kid` at most once per minimum
//! interval, single-flight, so a flood of random `kid`s costs at most one
//! fetch per interval. When `auth` is down the last good set stays in use
//! until it is older than the staleness limit; then validation fails closed.

use std::{
    collections::HashMap,
    fmt,
    future::Future,
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use arc_swap::ArcSwap;
use jsonwebtoken::{
    Algorithm, DecodingKey,
    jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse},
};
use mesh_proto::auth::v1::{GetJwksRequest, auth_client::AuthClient};

use super::{AuthError, Clock};
use crate::{Readiness, Upstream, metrics::Metrics};

/// One verification key.
pub(crate) struct Key {
    pub(crate) alg: Algorithm,
    pub(crate) decoding: DecodingKey,
}

/// A parsed key set: `kid` to key, asymmetric keys for allowed algorithms only.
#[derive(Default)]
pub struct KeySet {
    keys: HashMap<String, Key>,
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.keys.keys()).finish()
    }
}

impl KeySet {
    /// Parses a JWKS document, keeping signing keys with a `kid` whose
    /// algorithm is in `allowed`. Symmetric keys are always dropped.
    pub fn parse(json: &str, allowed: &[Algorithm]) -> Result<Self, String> {
        let set: JwkSet =
            serde_json::from_str(json).map_err(|e| format!("not a JWKS document: {e}"))?;
        let keys = set
            .keys
            .iter()
            .filter_map(|jwk| {
                let kid = jwk.common.key_id.clone()?;
                if matches!(&jwk.common.public_key_use, Some(u) if *u != PublicKeyUse::Signature) {
                    return None;
                }
                let alg = algorithm_of(jwk)?;
                if !allowed.contains(&alg) {
                    return None;
                }
                let decoding = DecodingKey::from_jwk(jwk).ok()?;
                Some((kid, Key { alg, decoding }))
            })
            .collect();
        Ok(Self { keys })
    }

    pub(crate) fn get(&self, kid: &str) -> Option<&Key> {
        self.keys.get(kid)
    }

    /// Whether the set holds `kid`.
    pub fn contains(&self, kid: &str) -> bool {
        self.keys.contains_key(kid)
    }

    /// The key ids in the set.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }
}

/// The algorithm a JWK is for: its `alg`, or the one its key type implies.
fn algorithm_of(jwk: &Jwk) -> Option<Algorithm> {
    let from_params = match &jwk.algorithm {
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => Algorithm::ES256,
            EllipticCurve::P384 => Algorithm::ES384,
            _ => return None,
        },
        AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => {
            Algorithm::EdDSA
        }
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        // Symmetric keys never verify anything here.
        _ => return None,
    };
    let Some(declared) = jwk.common.key_algorithm else {
        return Some(from_params);
    };
    let declared = match declared {
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        _ => return None,
    };
    // RSA keys serve several algorithms; others must agree with their curve.
    let consistent =
        declared == from_params || matches!(jwk.algorithm, AlgorithmParameters::RSA(_));
    consistent.then_some(declared)
}

/// Where a JWKS document comes from.
pub trait JwksSource: Send + Sync + fmt::Debug {
    /// Fetches the current JWKS document.
    fn fetch(&self) -> Pin<Box<dyn Future<Output = Result<String, String>> + Send + '_>>;
}

/// The JWKS of the `auth` workload, over mutual TLS (`auth.v1.Auth/GetJwks`).
#[derive(Debug, Clone)]
pub struct GrpcJwksSource {
    upstream: Upstream,
}

impl GrpcJwksSource {
    /// Fetches through `upstream`, which must be the `auth` workload.
    pub fn new(upstream: Upstream) -> Self {
        Self { upstream }
    }
}

impl JwksSource for GrpcJwksSource {
    fn fetch(&self) -> Pin<Box<dyn Future<Output = Result<String, String>> + Send + '_>> {
        Box::pin(async move {
            let mut request = tonic::Request::new(GetJwksRequest {});
            request.set_timeout(Duration::from_secs(5));
            AuthClient::new(self.upstream.raw_channel())
                .get_jwks(request)
                .await
                .map(|r| r.into_inner().jwks_json)
                .map_err(|status| format!("{}: {}", status.code(), status.message()))
        })
    }
}

/// Timing of the JWKS client.
#[derive(Debug, Clone)]
pub struct JwksTiming {
    /// Background refresh period.
    pub refresh_interval: Duration,
    /// Least time between two fetches triggered by unknown `kid`s.
    pub min_refresh_interval: Duration,
    /// Age after which the last good key set is no longer trusted.
    pub max_staleness: Duration,
}

/// Keeps the current key set of the mesh's issuer.
#[derive(Debug)]
pub struct JwksClient {
    source: Box<dyn JwksSource>,
    allowed: Vec<Algorithm>,
    timing: JwksTiming,
    clock: Arc<dyn Clock>,
    metrics: Metrics,
    keys: ArcSwap<KeySet>,
    /// Clock time (ms) of the last successful fetch; 0 before the first.
    last_success_ms: AtomicU64,
    /// Clock time of the last fetch attempt, for the minimum interval.
    last_attempt: Mutex<Option<Duration>>,
    /// Fetches started so far; lets waiters see that one ran meanwhile.
    attempts: AtomicU64,
    /// Single flight: one fetch at a time.
    in_flight: tokio::sync::Mutex<()>,
    /// Successful fetches so far, for those waiting on the first one.
    fetched: tokio::sync::watch::Sender<u64>,
}

impl JwksClient {
    /// A client with no keys yet; call [`JwksClient::refresh`] or spawn the refresher.
    pub fn new(
        source: Box<dyn JwksSource>,
        allowed: Vec<Algorithm>,
        timing: JwksTiming,
        clock: Arc<dyn Clock>,
        metrics: Metrics,
    ) -> Self {
        metrics.declare_jwks_refreshes(&["ok", "error", "throttled"]);
        // Whoever fetches keys validates tokens with them: every reason a
        // token can be refused starts at 0 too.
        metrics.declare_auth_failures(AuthError::ALL.iter().map(AuthError::reason));
        Self {
            source,
            allowed,
            timing,
            clock,
            metrics,
            keys: ArcSwap::from_pointee(KeySet::default()),
            last_success_ms: AtomicU64::new(0),
            last_attempt: Mutex::new(None),
            attempts: AtomicU64::new(0),
            in_flight: tokio::sync::Mutex::new(()),
            fetched: tokio::sync::watch::Sender::new(0),
        }
    }

    /// Waits until a key set within the staleness limit is loaded.
    pub async fn wait_fresh(&self) {
        let mut fetched = self.fetched.subscribe();
        while !self.is_fresh() {
            if fetched.changed().await.is_err() {
                return;
            }
        }
    }

    /// The current key set.
    pub fn keys(&self) -> arc_swap::Guard<Arc<KeySet>> {
        self.keys.load()
    }

    /// Whether a key set was fetched within the staleness limit.
    pub fn is_fresh(&self) -> bool {
        let last = self.last_success_ms.load(Ordering::Acquire);
        last != 0
            && self.clock.now().as_millis() as u64
                <= last + self.timing.max_staleness.as_millis() as u64
    }

    /// Fetches now (single flight). Returns whether the fetch succeeded.
    pub async fn refresh(&self) -> bool {
        let seen = self.attempts.load(Ordering::Acquire);
        let _flight = self.in_flight.lock().await;
        if self.attempts.load(Ordering::Acquire) != seen {
            return self.is_fresh();
        }
        self.fetch_locked().await
    }

    /// Fetches because a token named an unknown `kid`, unless a fetch ran
    /// within the minimum interval or is already running.
    pub(crate) async fn refresh_for_unknown_kid(&self) {
        let seen = self.attempts.load(Ordering::Acquire);
        let _flight = self.in_flight.lock().await;
        if self.attempts.load(Ordering::Acquire) != seen {
            return;
        }
        let now = self.clock.now();
        let recent = self
            .lock_last_attempt()
            .is_some_and(|last| now.saturating_sub(last) < self.timing.min_refresh_interval);
        if recent {
            self.metrics.jwks_refresh("throttled");
            return;
        }
        self.fetch_locked().await;
    }

    async fn fetch_locked(&self) -> bool {
        self.attempts.fetch_add(1, Ordering::AcqRel);
        *self.lock_last_attempt() = Some(self.clock.now());
        let parsed = match self.source.fetch().await {
            Ok(json) => KeySet::parse(&json, &self.allowed),
            Err(e) => Err(e),
        };
        match parsed {
            Ok(keys) => {
                tracing::debug!(kids = ?keys, "fetched the JWKS");
                self.keys.store(Arc::new(keys));
                self.last_success_ms
                    .store(self.clock.now().as_millis() as u64, Ordering::Release);
                self.metrics.jwks_refresh("ok");
                self.fetched.send_modify(|n| *n += 1);
                true
            }
            Err(error) => {
                self.metrics.jwks_refresh("error");
                tracing::warn!(%error, fresh = self.is_fresh(), "JWKS fetch failed; keeping the last good key set");
                false
            }
        }
    }

    fn lock_last_attempt(&self) -> std::sync::MutexGuard<'_, Option<Duration>> {
        self.last_attempt
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Refreshes in the background until the task is aborted: every second
    /// until the first success, then every refresh interval. Keeps the
    /// `jwks` readiness condition up to date.
    pub fn spawn_refresher(self: &Arc<Self>, readiness: Readiness) -> tokio::task::JoinHandle<()> {
        let this = Arc::clone(self);
        readiness.set("jwks", false);
        tokio::spawn(async move {
            loop {
                let ok = this.refresh().await;
                readiness.set("jwks", this.is_fresh());
                let wait = if ok {
                    this.timing.refresh_interval
                } else {
                    Duration::from_secs(1)
                };
                tokio::time::sleep(wait).await;
                readiness.set("jwks", this.is_fresh());
            }
        })
    }
}
