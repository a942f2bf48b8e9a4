//! The JWKS client and the verified-token cache, driven directly with a
//! manual clock against a real key server over mutual TLS.

use std::{sync::Arc, sync::atomic::Ordering, time::Duration};

use mesh::{
    Metrics, Upstream,
    jwt::{
        AuthError, GrpcJwksSource, JwksClient, ManualClock, Revocations, Validator,
        ValidatorConfig, jwks::JwksTiming,
    },
    testing::{TEST_ISSUER, TestPki},
};
use serde_json::json;

use crate::tokens_fixture::{KeyServer, start_key_server};

pub(crate) struct Rig {
    _pki: TestPki,
    _auth: mesh::testing::Running,
    pub(crate) keys: KeyServer,
    pub(crate) clock: ManualClock,
    pub(crate) validator: Validator,
    /// The channel to the key server, as workload `orders`.
    pub(crate) auth: Upstream,
    pub(crate) metrics: Metrics,
    pub(crate) registry: prometheus_client::registry::Registry,
}

async fn rig(skew: Duration, cache: usize) -> Rig {
    build(skew, cache, None).await
}

/// A rig whose validator also honours revocations that go stale after
/// `stale_after` (the JWKS after 60 s).
pub(crate) async fn following_rig(stale_after: Duration) -> Rig {
    build(Duration::from_secs(30), 100, Some(stale_after)).await
}

async fn build(skew: Duration, cache: usize, stale_after: Option<Duration>) -> Rig {
    let pki = TestPki::new();
    let (auth, keys) = start_key_server(&pki).await;
    let clock = ManualClock::starting_now();
    let upstream =
        Upstream::new(&pki.tls("orders"), "auth", &auth.grpc_addr.to_string()).expect("upstream");
    let (metrics, registry) = Metrics::new("orders");
    let timing = JwksTiming {
        refresh_interval: Duration::from_secs(300),
        min_refresh_interval: Duration::from_secs(10),
        max_staleness: Duration::from_secs(60),
    };
    let algorithms = vec![
        jsonwebtoken::Algorithm::ES256,
        jsonwebtoken::Algorithm::RS256,
        jsonwebtoken::Algorithm::EdDSA,
    ];
    let jwks = Arc::new(JwksClient::new(
        Box::new(GrpcJwksSource::new(upstream.clone())),
        algorithms.clone(),
        timing,
        Arc::new(clock.clone()),
        metrics.clone(),
    ));
    let config = ValidatorConfig {
        issuer: TEST_ISSUER.to_owned(),
        audience: "orders".to_owned(),
        algorithms,
        skew,
        cache_capacity: cache,
    };
    let revocations =
        stale_after.map(|limit| Arc::new(Revocations::new(Arc::new(clock.clone()), limit)));
    let validator = Validator::with_revocations(config, jwks, revocations, Arc::new(clock.clone()));
    Rig {
        _pki: pki,
        _auth: auth,
        keys,
        clock,
        validator,
        auth: upstream,
        metrics,
        registry,
    }
}

impl Rig {
    pub(crate) fn token(&self, sub: &str) -> String {
        self.keys
            .issuer
            .token("es-1", &self.keys.issuer.claims(sub, &["orders"]))
    }
}

#[tokio::test]
async fn nothing_validates_before_the_first_fetch() {
    let r = rig(Duration::from_secs(30), 100).await;
    assert_eq!(
        r.validator.validate(&r.token("alice")).await,
        Err(AuthError::KeysUnavailable)
    );
    assert!(r.validator.jwks().refresh().await);
    r.validator
        .validate(&r.token("alice"))
        .await
        .expect("valid after the fetch");
}

#[tokio::test]
async fn with_auth_down_last_good_keys_work_until_the_staleness_limit() {
    let r = rig(Duration::from_secs(30), 100).await;
    assert!(r.validator.jwks().refresh().await);
    let cached = r.token("alice");
    r.validator.validate(&cached).await.expect("valid");

    r.keys.down.store(true, Ordering::SeqCst);
    r.clock.advance(Duration::from_secs(45));
    assert!(!r.validator.jwks().refresh().await, "auth is down");
    r.validator
        .validate(&r.token("bob"))
        .await
        .expect("last good keys still trusted");
    r.validator
        .validate(&cached)
        .await
        .expect("cached token still trusted");

    r.clock.advance(Duration::from_secs(20));
    for token in [cached.clone(), r.token("carol")] {
        let error = r
            .validator
            .validate(&token)
            .await
            .expect_err("keys too old");
        assert_eq!(error, AuthError::KeysUnavailable);
        assert_eq!(
            tonic::Status::from(error).code(),
            tonic::Code::Unavailable,
            "fail closed as UNAVAILABLE"
        );
    }

    r.keys.down.store(false, Ordering::SeqCst);
    assert!(r.validator.jwks().refresh().await, "auth is back");
    r.validator.validate(&cached).await.expect("trusted again");
}

#[tokio::test]
async fn cache_entries_end_at_exp() {
    let r = rig(Duration::ZERO, 100).await;
    assert!(r.validator.jwks().refresh().await);
    // Times from the manual clock, which started a moment before the token was made.
    let now = mesh::jwt::Clock::now(&r.clock).as_secs();
    let mut claims = r.keys.issuer.claims("alice", &["orders"]);
    claims["iat"] = json!(now);
    claims["nbf"] = json!(now);
    claims["exp"] = json!(now + 10);
    let token = r.keys.issuer.token("es-1", &claims);
    r.validator.validate(&token).await.expect("valid");
    assert_eq!(r.validator.cached_tokens(), 1);
    r.clock.advance(Duration::from_secs(9));
    r.validator.validate(&token).await.expect("still valid");
    r.clock.advance(Duration::from_secs(1));
    assert_eq!(r.validator.validate(&token).await, Err(AuthError::Expired));
}

#[tokio::test]
async fn the_cache_never_confuses_two_tokens() {
    let r = rig(Duration::from_secs(30), 100).await;
    assert!(r.validator.jwks().refresh().await);
    let (alice, bob) = (r.token("alice"), r.token("bob"));
    for _ in 0..3 {
        assert_eq!(
            r.validator.validate(&alice).await.expect("alice").sub,
            "alice"
        );
        assert_eq!(r.validator.validate(&bob).await.expect("bob").sub, "bob");
    }
    assert_eq!(r.validator.cached_tokens(), 2);
    // A token one signature byte away from a cached one is checked in full.
    let (message, signature) = alice.rsplit_once('.').expect("compact");
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut bytes = base64::Engine::decode(&b64, signature).expect("base64");
    bytes[10] ^= 1;
    let tampered = format!("{message}.{}", base64::Engine::encode(&b64, &bytes));
    assert_eq!(
        r.validator.validate(&tampered).await,
        Err(AuthError::BadSignature)
    );
}

#[tokio::test]
async fn without_a_cache_every_call_is_verified() {
    let r = rig(Duration::from_secs(30), 0).await;
    assert!(r.validator.jwks().refresh().await);
    let token = r.token("alice");
    r.validator.validate(&token).await.expect("valid");
    r.validator.validate(&token).await.expect("valid again");
    assert_eq!(r.validator.cached_tokens(), 0);
}
