//! Token exchange (RFC 8693) through its two doors: mesh workloads over the
//! mutual-TLS gRPC API, OAuth clients with exchange rights at the public
//! token endpoint. Each hop's token is narrowed to what its audience may
//! receive, and carries an `act` claim naming who exchanged it.

use std::time::Duration;

use mesh::testing::{ClientCert, raw_channel};
use mesh_proto::auth::v1::{
    ExchangeTokenRequest, GetJwksRequest, TokenResponse, auth_client::AuthClient,
};
use serde_json::json;

use crate::{
    https::{Https, Reply},
    support::{Options, TestAuth, basic, decode, secret, verify},
};

const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
const EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// Exchanges `subject` for `audience` at the public token endpoint, with
/// `headers` (client authentication, if any).
pub(crate) async fn exchange(
    client: &Https,
    subject: &str,
    audience: &str,
    scope: Option<&str>,
    headers: &[(&str, String)],
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
    client.post_form("/oauth2/token", &body, headers).await
}

/// Client `id`'s `Authorization` header.
pub(crate) fn client_auth(id: &str) -> Vec<(&'static str, String)> {
    vec![("authorization", basic(id, &secret(id)))]
}

/// Exchanges `subject` for `audience` over gRPC as workload `workload`.
pub(crate) async fn exchange_as(
    auth: &TestAuth,
    workload: &str,
    subject: &str,
    audience: &str,
    scope: &str,
) -> Result<TokenResponse, tonic::Status> {
    let cert = ClientCert::from(&auth.pki.files(workload));
    let mut client = AuthClient::new(raw_channel(&cert, &auth.ca(), auth.grpc));
    client
        .exchange_token(ExchangeTokenRequest {
            subject_token: subject.to_owned(),
            audience: audience.to_owned(),
            scope: scope.to_owned(),
        })
        .await
        .map(tonic::Response::into_inner)
}

/// `user`'s token for the gateway, through client `client`.
async fn user_token(auth: &TestAuth, client: &str, user: &str) -> String {
    let login = auth.login(client, user, &[]).await;
    login["access_token"]
        .as_str()
        .expect("access token")
        .to_owned()
}

#[tokio::test]
async fn a_workload_gets_a_narrowed_token_naming_it_as_actor() {
    let auth = TestAuth::start_with(Options::args(&["--enable-password-grant"])).await;
    let subject = user_token(&auth, "meshctl", "alice").await;
    let (_, original) = decode(&subject);

    let response = exchange_as(&auth, "gateway", &subject, "orders", "orders:read")
        .await
        .expect("gateway exchanges for orders");
    assert_eq!(response.issued_token_type, ACCESS_TOKEN);
    assert_eq!(response.token_type, "Bearer");
    let exchanged = response.access_token;
    let claims = verify(&exchanged, &auth.jwks().await, &auth.issuer, "orders");
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["client_id"], "meshctl");
    assert_eq!(claims["aud"], json!(["orders"]));
    assert_eq!(claims["scope"], "orders:read");
    assert_eq!(claims["roles"], original["roles"]);
    assert_eq!(claims["act"], json!({"sub": "spiffe://mesh.local/gateway"}));
    assert!(claims["exp"].as_i64() <= original["exp"].as_i64());
    assert_ne!(claims["jti"], original["jti"]);

    // The next hop exchanges again: the chain of actors grows, and
    // `orders:read` is not for payments, so nothing of it is left.
    auth.advance(Duration::from_secs(60));
    let hop2 = exchange_as(&auth, "orders", &exchanged, "payments", "")
        .await
        .expect("orders exchanges for payments");
    let (_, hop2) = decode(&hop2.access_token);
    assert_eq!(hop2["aud"], json!(["payments"]));
    assert_eq!(hop2["scope"], "");
    assert_eq!(
        hop2["act"],
        json!({"sub": "spiffe://mesh.local/orders", "act": {"sub": "spiffe://mesh.local/gateway"}})
    );
    // Never outlives the token it came from.
    assert_eq!(hop2["exp"], original["exp"]);
    assert_eq!(
        auth.metric("mesh_tokens_issued_total", r#"grant_type="token_exchange""#)
            .await,
        2.0
    );
}

/// Case 48: every hop of an order, as the workloads exchange, gets only
/// the scopes its audience needs (`audience_scopes`), never the caller's
/// whole scope.
#[tokio::test]
async fn case_48_each_hop_carries_only_what_its_audience_needs() {
    let auth = TestAuth::start_with(Options::args(&["--enable-password-grant"])).await;
    let alice = user_token(&auth, "meshctl", "alice").await;
    let (_, original) = decode(&alice);
    assert_eq!(
        original["scope"],
        "accounts:read accounts:write orders:read orders:write payments:read"
    );
    let scope_of = |token: &str| decode(token).1["scope"].as_str().expect("scope").to_owned();

    // gateway → orders → payments → accounts, as an order is paid.
    let orders = exchange_as(&auth, "gateway", &alice, "orders", "")
        .await
        .expect("gateway → orders")
        .access_token;
    assert_eq!(scope_of(&orders), "accounts:read orders:read orders:write");
    let payments = exchange_as(&auth, "orders", &orders, "payments", "")
        .await
        .expect("orders → payments")
        .access_token;
    assert_eq!(scope_of(&payments), "accounts:read");
    let accounts = exchange_as(&auth, "payments", &payments, "accounts", "")
        .await
        .expect("payments → accounts")
        .access_token;
    assert_eq!(scope_of(&accounts), "accounts:read");

    // The gateway straight to accounts: no `orders:*`, no `payments:*`.
    let direct = exchange_as(&auth, "gateway", &alice, "accounts", "")
        .await
        .expect("gateway → accounts")
        .access_token;
    assert_eq!(scope_of(&direct), "accounts:read accounts:write");

    // Staff refunds through the gateway keep `payments:write` for payments.
    let maria = user_token(&auth, "meshctl", "maria").await;
    let refund = exchange_as(&auth, "gateway", &maria, "payments", "")
        .await
        .expect("gateway → payments")
        .access_token;
    assert_eq!(
        scope_of(&refund),
        "accounts:read payments:read payments:write"
    );

    // Asking for more than the audience may receive is refused.
    let status = exchange_as(&auth, "gateway", &alice, "accounts", "orders:read")
        .await
        .expect_err("orders:read is not for accounts");
    assert_eq!(status.code(), tonic::Code::PermissionDenied);
    assert!(status.message().contains("invalid_scope"), "{status:?}");
}

#[tokio::test]
async fn exchange_rights_come_from_the_config() {
    let auth = TestAuth::start_with(Options::args(&["--enable-password-grant"])).await;
    let subject = user_token(&auth, "meshctl", "alice").await;
    // The gateway may not exchange for itself or for `auth`.
    for audience in ["gateway", "auth"] {
        let status = exchange_as(&auth, "gateway", &subject, audience, "")
            .await
            .expect_err(audience);
        assert_eq!(status.code(), tonic::Code::PermissionDenied, "{audience}");
        assert!(status.message().contains("invalid_target"), "{status:?}");
    }
    // loadgen has a mesh certificate but no exchange rights.
    let status = exchange_as(&auth, "loadgen", &subject, "orders", "")
        .await
        .expect_err("loadgen");
    assert!(
        status.message().contains("unauthorized_client"),
        "{status:?}"
    );
}

#[tokio::test]
async fn the_subject_token_must_be_valid_and_addressed_to_the_caller() {
    let auth = TestAuth::start_with(Options::args(&["--enable-password-grant"])).await;
    let subject = user_token(&auth, "meshctl", "alice").await;
    let unauthenticated = |result: Result<TokenResponse, tonic::Status>| {
        let status = result.expect_err("refused");
        assert_eq!(status.code(), tonic::Code::Unauthenticated, "{status:?}");
        assert!(status.message().contains("invalid_grant"), "{status:?}");
    };
    // For the gateway, not for orders.
    unauthenticated(exchange_as(&auth, "orders", &subject, "payments", "").await);

    let mut forged = subject.clone();
    forged.push('A');
    unauthenticated(exchange_as(&auth, "gateway", &forged, "orders", "").await);

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
    unauthenticated(exchange_as(&auth, "gateway", &subject, "orders", "").await);

    let fresh = user_token(&auth, "meshctl", "alice").await;
    auth.advance(Duration::from_secs(301));
    unauthenticated(exchange_as(&auth, "gateway", &fresh, "orders", "").await);
    assert_eq!(
        auth.metric("mesh_auth_failures_total", r#"reason="token_expired""#)
            .await,
        1.0
    );
}

#[tokio::test]
async fn a_client_with_exchange_rights_exchanges_its_own_users_tokens() {
    let auth = TestAuth::start_with(Options::args(&["--enable-password-grant"])).await;
    let own = user_token(&auth, "exchanger", "alice").await;
    let reply = exchange(
        &auth.client(),
        &own,
        "orders",
        None,
        &client_auth("exchanger"),
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
    assert!(body.get("refresh_token").is_none());
    let (_, claims) = decode(body["access_token"].as_str().expect("token"));
    assert_eq!(claims["aud"], json!(["orders"]));
    assert_eq!(claims["act"], json!({"sub": "exchanger"}));
    assert_eq!(claims["scope"], "accounts:read orders:read orders:write");

    // Only for the audiences it was given.
    let reply = exchange(
        &auth.client(),
        &own,
        "accounts",
        None,
        &client_auth("exchanger"),
    )
    .await;
    assert_eq!(
        (reply.status.as_u16(), reply.error()),
        (400, "invalid_target".to_owned())
    );
    // Only tokens issued to it, not another client's.
    let other = user_token(&auth, "meshctl", "alice").await;
    let reply = exchange(
        &auth.client(),
        &other,
        "orders",
        None,
        &client_auth("exchanger"),
    )
    .await;
    assert_eq!(reply.error(), "invalid_grant");
    // A refresh token is not an access token, whatever the request says.
    let login = auth.login("exchanger", "alice", &[]).await;
    let refresh = login["refresh_token"].as_str().expect("refresh token");
    let reply = exchange(
        &auth.client(),
        refresh,
        "orders",
        None,
        &client_auth("exchanger"),
    )
    .await;
    assert_eq!(reply.error(), "invalid_grant");
    // Only access tokens may be asked for.
    let params = [
        ("grant_type", EXCHANGE),
        ("subject_token", own.as_str()),
        (
            "subject_token_type",
            "urn:ietf:params:oauth:token-type:id_token",
        ),
        ("audience", "orders"),
    ];
    let body = serde_urlencoded::to_string(params).expect("form");
    let reply = auth
        .client()
        .post_form("/oauth2/token", &body, &client_auth("exchanger"))
        .await;
    assert_eq!(reply.error(), "invalid_request");
}

#[tokio::test]
async fn grpc_exchange_and_jwks_serve_mesh_workloads() {
    let auth = TestAuth::start_with(Options::args(&["--enable-password-grant"])).await;
    let subject = user_token(&auth, "meshctl", "alice").await;
    let response = exchange_as(&auth, "gateway", &subject, "accounts", "accounts:read")
        .await
        .expect("exchange over gRPC");
    assert_eq!(response.issued_token_type, ACCESS_TOKEN);
    let (_, claims) = decode(&response.access_token);
    assert_eq!(claims["aud"], json!(["accounts"]));
    assert_eq!(claims["act"]["sub"], "spiffe://mesh.local/gateway");

    // More scope than the subject token has: PERMISSION_DENIED.
    let status = exchange_as(&auth, "gateway", &subject, "accounts", "payments:write")
        .await
        .expect_err("wider scope");
    assert_eq!(status.code(), tonic::Code::PermissionDenied);
    // A bad subject token: UNAUTHENTICATED.
    let status = exchange_as(&auth, "gateway", "not.a.token", "accounts", "")
        .await
        .expect_err("bad token");
    assert_eq!(status.code(), tonic::Code::Unauthenticated);

    let gateway = ClientCert::from(&auth.pki.files("gateway"));
    let mut client = AuthClient::new(raw_channel(&gateway, &auth.ca(), auth.grpc));
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
