//! Token exchange (RFC 8693), over HTTPS with a workload certificate and
//! over gRPC: a narrowed token for the next hop, with an `act` claim.

use std::time::Duration;

use mesh::testing::{ClientCert, raw_channel};
use mesh_proto::auth::v1::{ExchangeTokenRequest, GetJwksRequest, auth_client::AuthClient};

use crate::{
    https::{Https, Reply},
    support::{Options, TestAuth, basic, decode, secret, verify},
};

const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
const EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// Exchanges `subject` for `audience` through `client`.
pub(crate) async fn exchange(
    client: &Https,
    subject: &str,
    audience: &str,
    scope: Option<&str>,
) -> Reply {
    let mut params = vec![
        ("grant_type", EXCHANGE),
        ("subject_token", subject),
        ("subject_token_type", ACCESS_TOKEN),
        ("audience", audience),
    ];
    if let Some(scope) = scope {
        params.push(("scope", scope));
    }
    let body = serde_urlencoded::to_string(&params).expect("form");
    client.post_form("/oauth2/token", &body, &[]).await
}

/// alice's token for the gateway.
async fn user_token(auth: &TestAuth) -> String {
    let login = auth.login("meshctl", "alice", &[]).await;
    login["access_token"]
        .as_str()
        .expect("access token")
        .to_owned()
}

#[tokio::test]
async fn a_workload_gets_a_narrowed_token_naming_it_as_actor() {
    let auth = TestAuth::start_with(Options::args(&["--enable-password-grant"])).await;
    let subject = user_token(&auth).await;
    let (_, original) = decode(&subject);

    let reply = exchange(
        &auth.workload("gateway"),
        &subject,
        "orders",
        Some("orders:read"),
    )
    .await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let body = reply.json();
    assert_eq!(body["issued_token_type"], ACCESS_TOKEN);
    assert_eq!(body["token_type"], "Bearer");
    assert!(body.get("refresh_token").is_none());
    let exchanged = body["access_token"].as_str().expect("token").to_owned();
    let claims = verify(&exchanged, &auth.jwks().await, &auth.issuer, "orders");
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["client_id"], "meshctl");
    assert_eq!(claims["aud"], serde_json::json!(["orders"]));
    assert_eq!(claims["scope"], "orders:read");
    assert_eq!(claims["roles"], original["roles"]);
    assert_eq!(
        claims["act"],
        serde_json::json!({"sub": "spiffe://mesh.local/gateway"})
    );
    assert!(claims["exp"].as_i64() <= original["exp"].as_i64());
    assert_ne!(claims["jti"], original["jti"]);

    // The next hop exchanges again: the chain of actors grows.
    auth.advance(Duration::from_secs(60));
    let reply = exchange(&auth.workload("orders"), &exchanged, "payments", None).await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let (_, hop2) = decode(reply.json()["access_token"].as_str().expect("token"));
    assert_eq!(hop2["aud"], serde_json::json!(["payments"]));
    assert_eq!(hop2["scope"], "orders:read");
    assert_eq!(
        hop2["act"],
        serde_json::json!({"sub": "spiffe://mesh.local/orders", "act": {"sub": "spiffe://mesh.local/gateway"}})
    );
    // Never outlives the token it came from.
    assert_eq!(hop2["exp"], original["exp"]);
    assert_eq!(
        auth.metric("mesh_tokens_issued_total", r#"grant_type="token_exchange""#)
            .await,
        2.0
    );
}

#[tokio::test]
async fn exchange_rights_come_from_the_config() {
    let auth = TestAuth::start_with(Options::args(&["--enable-password-grant"])).await;
    let subject = user_token(&auth).await;
    // The gateway may not exchange for itself or for `auth`.
    for audience in ["gateway", "auth"] {
        let reply = exchange(&auth.workload("gateway"), &subject, audience, None).await;
        assert_eq!(reply.error(), "invalid_target", "{audience}");
    }
    // loadgen has a mesh certificate but no exchange rights.
    let reply = exchange(&auth.workload("loadgen"), &subject, "orders", None).await;
    assert_eq!(reply.error(), "unauthorized_client");
}

#[tokio::test]
async fn the_subject_token_must_be_valid_and_addressed_to_the_caller() {
    let auth = TestAuth::start_with(Options::args(&["--enable-password-grant"])).await;
    let subject = user_token(&auth).await;
    // For the gateway, not for orders.
    let reply = exchange(&auth.workload("orders"), &subject, "payments", None).await;
    assert_eq!(reply.error(), "invalid_grant");

    let mut forged = subject.clone();
    forged.push('A');
    let reply = exchange(&auth.workload("gateway"), &forged, "orders", None).await;
    assert_eq!(reply.error(), "invalid_grant");

    let body = serde_urlencoded::to_string([("token", subject.as_str())]).expect("form");
    let revoked = auth
        .client()
        .post_form(
            "/oauth2/revoke",
            &body,
            &[("authorization", basic("meshctl", &secret("meshctl")))],
        )
        .await;
    assert_eq!(revoked.status, 200);
    let reply = exchange(&auth.workload("gateway"), &subject, "orders", None).await;
    assert_eq!(reply.error(), "invalid_grant");

    let fresh = user_token(&auth).await;
    auth.advance(Duration::from_secs(301));
    let reply = exchange(&auth.workload("gateway"), &fresh, "orders", None).await;
    assert_eq!(reply.error(), "invalid_grant");
    assert_eq!(
        auth.metric("mesh_auth_failures_total", r#"reason="token_expired""#)
            .await,
        1.0
    );
}

#[tokio::test]
async fn only_access_tokens_can_be_exchanged() {
    let auth = TestAuth::start_with(Options::args(&["--enable-password-grant"])).await;
    let login = auth.login("meshctl", "alice", &[]).await;
    let refresh = login["refresh_token"].as_str().expect("refresh token");
    // A refresh token is not an access token, whatever the request says.
    let reply = exchange(&auth.workload("gateway"), refresh, "orders", None).await;
    assert_eq!(reply.error(), "invalid_grant");
    let subject = login["access_token"].as_str().expect("access token");
    let params = [
        ("grant_type", EXCHANGE),
        ("subject_token", subject),
        (
            "subject_token_type",
            "urn:ietf:params:oauth:token-type:id_token",
        ),
        ("audience", "orders"),
    ];
    let body = serde_urlencoded::to_string(params).expect("form");
    let reply = auth
        .workload("gateway")
        .post_form("/oauth2/token", &body, &[])
        .await;
    assert_eq!(reply.error(), "invalid_request");
}

#[tokio::test]
async fn grpc_exchange_and_jwks_serve_mesh_workloads() {
    let auth = TestAuth::start_with(Options::args(&["--enable-password-grant"])).await;
    let subject = user_token(&auth).await;
    let gateway = ClientCert::from(&auth.pki.files("gateway"));
    let mut client = AuthClient::new(raw_channel(&gateway, &auth.ca(), auth.grpc));
    let response = client
        .exchange_token(ExchangeTokenRequest {
            subject_token: subject.clone(),
            audience: "accounts".to_owned(),
            scope: "accounts:read".to_owned(),
        })
        .await
        .expect("exchange over gRPC")
        .into_inner();
    assert_eq!(response.issued_token_type, ACCESS_TOKEN);
    let (_, claims) = decode(&response.access_token);
    assert_eq!(claims["aud"], serde_json::json!(["accounts"]));
    assert_eq!(claims["act"]["sub"], "spiffe://mesh.local/gateway");

    // More scope than the subject token has: PERMISSION_DENIED.
    let status = client
        .exchange_token(ExchangeTokenRequest {
            subject_token: subject.clone(),
            audience: "accounts".to_owned(),
            scope: "payments:write".to_owned(),
        })
        .await
        .expect_err("wider scope");
    assert_eq!(status.code(), tonic::Code::PermissionDenied);
    // A bad subject token: UNAUTHENTICATED.
    let status = client
        .exchange_token(ExchangeTokenRequest {
            subject_token: "not.a.token".to_owned(),
            audience: "accounts".to_owned(),
            scope: String::new(),
        })
        .await
        .expect_err("bad token");
    assert_eq!(status.code(), tonic::Code::Unauthenticated);

    let jwks = client
        .get_jwks(GetJwksRequest {})
        .await
        .expect("jwks")
        .into_inner();
    let over_grpc: serde_json::Value = serde_json::from_str(&jwks.jwks_json).expect("JSON");
    assert_eq!(over_grpc, auth.jwks().await);

    // No client certificate: the kit refuses before any handler runs.
    let mut anonymous = AuthClient::new(raw_channel(&ClientCert::None, &auth.ca(), auth.grpc));
    let status = anonymous
        .get_jwks(GetJwksRequest {})
        .await
        .expect_err("no identity");
    assert!(
        matches!(
            status.code(),
            tonic::Code::Unauthenticated | tonic::Code::Unavailable | tonic::Code::Unknown
        ),
        "{status:?}"
    );
}
