//! Propagation across two hops: gateway → orders → payments. The last hop
//! sees the same subject; in exchange mode, a token narrowed to itself
//! with an `act` naming the middle hop; and a deadline shorter than the
//! caller's.

use std::time::Duration;

use mesh::{config::TokenModeArg, testing::raw_channel};
use mesh_proto::auth::v1::{GetJwksRequest, auth_client::AuthClient};
use serde_json::{Value, json};

use crate::tokens_fixture::{start_echo, start_key_server};

async fn through_two_hops(mode: TokenModeArg, aud: &[&str]) -> Value {
    let pki = mesh::testing::TestPki::new();
    let (auth, keys) = start_key_server(&pki).await;
    let (payments, last) = start_echo(&pki, mesh::PAYMENTS, &auth, |_| {}, None).await;
    let (orders, middle) = start_echo(
        &pki,
        mesh::ORDERS,
        &auth,
        |args| args.jwt.token_mode = mode,
        Some(("payments", payments.grpc_addr)),
    )
    .await;
    let token = keys.issuer.token("es-1", &keys.issuer.claims("alice", aud));
    let channel = raw_channel(
        &(&pki.files("gateway")).into(),
        &pki.dir().ca_cert(),
        orders.grpc_addr,
    );
    let mut request = tonic::Request::new(GetJwksRequest {});
    request.set_timeout(Duration::from_secs(20));
    let value = format!("Bearer {token}").parse().expect("header");
    request.metadata_mut().insert("authorization", value);
    let reply = AuthClient::new(channel)
        .get_jwks(request)
        .await
        .expect("two hops");
    assert_eq!((middle.calls(), last.calls()), (1, 1));
    serde_json::from_str(&reply.into_inner().jwks_json).expect("echo JSON")
}

fn assert_deadline_shrank(seen: &Value) {
    let remaining = seen["remaining_ms"]
        .as_u64()
        .expect("the last hop got a deadline");
    assert!(
        remaining > 0 && remaining < 20_000,
        "remaining {remaining} ms"
    );
}

#[tokio::test]
async fn propagate_mode_forwards_the_callers_token() {
    let seen = through_two_hops(TokenModeArg::Propagate, &["orders", "payments"]).await;
    assert_eq!(seen["sub"], "alice");
    assert_eq!(seen["peer"], "spiffe://mesh.local/orders");
    assert_eq!(seen["aud"], json!(["orders", "payments"]));
    assert_eq!(seen["act"], Value::Null);
    assert_deadline_shrank(&seen);
}

#[tokio::test]
async fn exchange_mode_narrows_the_audience_and_names_the_actor() {
    let seen = through_two_hops(TokenModeArg::Exchange, &["orders"]).await;
    assert_eq!(seen["sub"], "alice");
    assert_eq!(seen["aud"], json!(["payments"]));
    assert_eq!(seen["act"], "spiffe://mesh.local/orders");
    assert_deadline_shrank(&seen);
}

#[tokio::test]
async fn a_token_for_the_first_hop_only_is_refused_downstream_in_propagate_mode() {
    let pki = mesh::testing::TestPki::new();
    let (auth, keys) = start_key_server(&pki).await;
    let (payments, last) = start_echo(&pki, mesh::PAYMENTS, &auth, |_| {}, None).await;
    let (orders, _) = start_echo(
        &pki,
        mesh::ORDERS,
        &auth,
        |args| args.jwt.token_mode = TokenModeArg::Propagate,
        Some(("payments", payments.grpc_addr)),
    )
    .await;
    let token = keys
        .issuer
        .token("es-1", &keys.issuer.claims("alice", &["orders"]));
    let channel = raw_channel(
        &(&pki.files("gateway")).into(),
        &pki.dir().ca_cert(),
        orders.grpc_addr,
    );
    let mut request = tonic::Request::new(GetJwksRequest {});
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("header"),
    );
    let error = AuthClient::new(channel)
        .get_jwks(request)
        .await
        .expect_err("payments refuses");
    assert_eq!(error.code(), tonic::Code::Unauthenticated);
    assert_eq!(last.calls(), 0);
}
