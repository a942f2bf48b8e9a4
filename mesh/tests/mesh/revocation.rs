//! Case 49 in the kit: the validator follows the key server's revocation
//! feed over mutual TLS and refuses revoked tokens even from its cache
//! (manual clock, polls driven by the test), and a served workload, with
//! its own background follower, refuses a revoked token at its layer.

use std::{net::SocketAddr, sync::atomic::Ordering, time::Duration};

use mesh::{
    config::TokenModeArg,
    jwt::{AuthError, revocation::follower},
    metrics::encode,
    testing::{TestPki, eventually, metric, raw_channel, unverified_claims},
};
use mesh_proto::auth::v1::{GetJwksRequest, auth_client::AuthClient};
use tonic::Code;

use crate::{
    fixture::scrape,
    jwks::{Rig, following_rig},
    tokens_fixture::{start_echo, start_key_server},
};

const STALE_AFTER: Duration = Duration::from_secs(10);

/// Polls the feed once, as the background task does every second.
async fn poll(r: &Rig) -> bool {
    let revocations = r.validator.revocations().expect("following");
    follower::poll(r.auth.raw_channel(), revocations, &r.metrics).await
}

fn claim(token: &str, name: &str) -> serde_json::Value {
    unverified_claims(token)[name].clone()
}

async fn ready_rig() -> Rig {
    let r = following_rig(STALE_AFTER).await;
    assert!(r.validator.jwks().refresh().await);
    assert!(poll(&r).await, "first poll");
    r
}

#[tokio::test]
async fn case_49_a_cached_token_is_refused_once_its_jti_is_revoked() {
    let r = ready_rig().await;
    let token = r.token("alice");
    for _ in 0..2 {
        r.validator.validate(&token).await.expect("valid");
    }
    assert_eq!(r.validator.cached_tokens(), 1);

    let jti = claim(&token, "jti");
    let exp = claim(&token, "exp").as_i64().expect("exp");
    r.keys.revoke_jti(jti.as_str().expect("jti"), exp);
    assert_eq!(
        r.validator.validate(&token).await.map(drop),
        Ok(()),
        "not seen yet"
    );
    assert!(poll(&r).await);
    assert_eq!(
        r.validator.validate(&token).await,
        Err(AuthError::Revoked),
        "refused although cached"
    );
    r.validator
        .validate(&r.token("alice"))
        .await
        .expect("alice's other tokens still work");
    let counted = encode(&r.registry);
    assert!(metric(&counted, "mesh_revocation_refresh_total", r#"result="ok""#) >= 2.0);
}

#[tokio::test]
async fn case_49_tokens_exchanged_from_a_revoked_token_are_refused() {
    let r = ready_rig().await;
    let issuer = &r.keys.issuer;
    let mut exchanged = issuer.claims("alice", &["orders"]);
    exchanged["root_jti"] = "the-user-token".into();
    let exchanged = issuer.token("es-1", &exchanged);
    r.validator.validate(&exchanged).await.expect("valid");

    r.keys.revoke_jti("the-user-token", i64::MAX / 2);
    assert!(poll(&r).await);
    assert_eq!(
        r.validator.validate(&exchanged).await,
        Err(AuthError::Revoked)
    );
}

#[tokio::test]
async fn case_49_a_subjects_earlier_tokens_are_refused_after_a_not_before() {
    let r = ready_rig().await;
    let token = r.token("alice");
    r.validator.validate(&token).await.expect("valid");
    let iat = claim(&token, "iat").as_i64().expect("iat");
    r.keys.revoke_subject("alice", "", iat + 1);
    assert!(poll(&r).await);
    assert_eq!(r.validator.validate(&token).await, Err(AuthError::Revoked));
    r.validator
        .validate(&r.token("bob"))
        .await
        .expect("another subject is unaffected");
}

#[tokio::test]
async fn case_49_with_the_feed_unreachable_validation_fails_closed_after_the_limit() {
    let r = ready_rig().await;
    let token = r.token("alice");
    r.validator.validate(&token).await.expect("valid");

    r.keys.down.store(true, Ordering::SeqCst);
    assert!(!poll(&r).await, "auth is down");
    r.clock.advance(STALE_AFTER);
    r.validator
        .validate(&token)
        .await
        .expect("the last answer is trusted up to the limit");
    r.clock.advance(Duration::from_millis(1));
    let error = r.validator.validate(&token).await.expect_err("too old");
    assert_eq!(error, AuthError::RevocationsUnavailable);
    assert_eq!(tonic::Status::from(error).code(), Code::Unavailable);
    let counted = encode(&r.registry);
    assert!(
        metric(
            &counted,
            "mesh_revocation_refresh_total",
            r#"result="error""#
        ) >= 1.0
    );

    r.keys.down.store(false, Ordering::SeqCst);
    assert!(poll(&r).await);
    r.validator.validate(&token).await.expect("fresh again");
}

/// Calls the echo at `addr` as the gateway with `token`.
async fn call(pki: &TestPki, addr: SocketAddr, token: &str) -> Result<(), tonic::Status> {
    let gateway = (&pki.files("gateway")).into();
    let channel = raw_channel(&gateway, &pki.dir().ca_cert(), addr);
    let mut request = tonic::Request::new(GetJwksRequest {});
    let bearer = format!("Bearer {token}").parse().expect("header");
    request.metadata_mut().insert("authorization", bearer);
    AuthClient::new(channel).get_jwks(request).await.map(drop)
}

/// Follows the feed every 50 ms instead of every second.
fn fast(args: &mut mesh::ServerArgs) {
    args.jwt.revocation_poll_interval = Duration::from_millis(50);
}

/// Whether `token` is refused (UNAUTHENTICATED) at `addr` within 5 s; the
/// follower polls in the background, so this waits for its outcome.
async fn refused_within_5s(pki: &TestPki, addr: SocketAddr, token: &str) -> bool {
    eventually(Duration::from_secs(5), || async {
        let refused = call(pki, addr, token).await.err()?;
        (refused.code() == Code::Unauthenticated).then_some(())
    })
    .await
    .is_some()
}

fn revoked_count(scraped: &str) -> f64 {
    metric(scraped, "mesh_auth_failures_total", r#"reason="revoked""#)
}

#[tokio::test]
async fn case_49_a_workload_refuses_a_revoked_token_and_counts_it() {
    let pki = TestPki::new();
    let (auth, keys) = start_key_server(&pki).await;
    let (echo, _) = start_echo(&pki, mesh::ACCOUNTS, &auth, fast, None).await;
    let token = keys
        .issuer
        .token("es-1", &keys.issuer.claims("alice", &["accounts"]));
    call(&pki, echo.grpc_addr, &token)
        .await
        .expect("valid before");
    keys.revoke_jti(claim(&token, "jti").as_str().expect("jti"), i64::MAX / 2);
    assert!(refused_within_5s(&pki, echo.grpc_addr, &token).await);
    assert!(revoked_count(&scrape(&echo).await) >= 1.0);
}

#[tokio::test]
async fn case_49_a_cached_exchanged_token_is_refused_downstream_once_its_root_is_revoked() {
    let pki = TestPki::new();
    let (auth, keys) = start_key_server(&pki).await;
    let (payments, _) = start_echo(&pki, mesh::PAYMENTS, &auth, fast, None).await;
    // The middle hop exchanges, and learns of revocations only after this
    // test is over: its exchange cache keeps handing out the same token.
    let slow = |args: &mut mesh::ServerArgs| {
        args.jwt.token_mode = TokenModeArg::Exchange;
        args.jwt.revocation_poll_interval = Duration::from_secs(3600);
        args.jwt.revocation_max_staleness = Duration::from_secs(7200);
    };
    let next = Some(("payments", payments.grpc_addr));
    let (orders, _) = start_echo(&pki, mesh::ORDERS, &auth, slow, next).await;
    let token = keys
        .issuer
        .token("es-1", &keys.issuer.claims("alice", &["orders"]));
    for _ in 0..2 {
        call(&pki, orders.grpc_addr, &token)
            .await
            .expect("two hops");
    }

    keys.revoke_jti(claim(&token, "jti").as_str().expect("jti"), i64::MAX / 2);
    assert!(refused_within_5s(&pki, orders.grpc_addr, &token).await);
    assert_eq!(revoked_count(&scrape(&orders).await), 0.0, "not orders");
    assert!(revoked_count(&scrape(&payments).await) >= 1.0, "payments");
}

#[tokio::test]
async fn a_staleness_limit_shorter_than_the_poll_interval_is_refused_at_start() {
    let pki = TestPki::new();
    let mut args = pki.server_args("orders");
    args.jwt.revocation_max_staleness = args.jwt.revocation_poll_interval;
    let error = mesh::Server::start(mesh::ORDERS, args)
        .await
        .expect_err("refused");
    assert!(
        error.to_string().contains("--revocation-max-staleness"),
        "{error}"
    );
}
