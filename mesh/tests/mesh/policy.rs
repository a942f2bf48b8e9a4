//! The policy table: a valid workload may still not call every RPC.

use mesh::testing::{TestPki, metric, raw_channel};
use mesh_proto::auth::v1::{ExchangeTokenRequest, GetJwksRequest, auth_client::AuthClient};
use tonic::Code;

use crate::fixture::{self, scrape};

#[tokio::test]
async fn an_allowed_workload_reaches_the_handler_with_its_identity() {
    let pki = TestPki::new();
    let (server, probe) = fixture::start(&pki).await;
    let channel = raw_channel(
        &(&pki.files("orders")).into(),
        &pki.dir().ca_cert(),
        server.grpc_addr,
    );
    let reply = AuthClient::new(channel)
        .get_jwks(GetJwksRequest {})
        .await
        .expect("allowed");
    assert_eq!(reply.into_inner().jwks_json, "spiffe://mesh.local/orders");
    assert_eq!(probe.calls(), 1);
}

#[tokio::test]
async fn a_workload_the_table_does_not_allow_is_permission_denied() {
    let pki = TestPki::new();
    let (server, probe) = fixture::start(&pki).await;
    let channel = raw_channel(
        &(&pki.files("gateway")).into(),
        &pki.dir().ca_cert(),
        server.grpc_addr,
    );
    let error = AuthClient::new(channel)
        .get_jwks(GetJwksRequest {})
        .await
        .expect_err("denied");
    assert_eq!(error.code(), Code::PermissionDenied, "{error}");
    assert!(
        error.message().contains("spiffe://mesh.local/gateway"),
        "{}",
        error.message()
    );
    assert_eq!(probe.calls(), 0, "the handler must not run");
    let text = scrape(&server).await;
    assert_eq!(
        metric(
            &text,
            "mesh_authz_denied_total",
            "reason=\"peer_not_allowed\""
        ),
        1.0,
        "{text}"
    );
}

#[tokio::test]
async fn an_rpc_missing_from_the_table_is_denied_to_everyone() {
    let pki = TestPki::new();
    let (server, probe) = fixture::start(&pki).await;
    let channel = raw_channel(
        &(&pki.files("orders")).into(),
        &pki.dir().ca_cert(),
        server.grpc_addr,
    );
    let error = AuthClient::new(channel)
        .exchange_token(ExchangeTokenRequest::default())
        .await
        .expect_err("denied");
    assert_eq!(error.code(), Code::PermissionDenied, "{error}");
    assert_eq!(probe.calls(), 0, "the handler must not run");
    let text = scrape(&server).await;
    assert_eq!(
        metric(&text, "mesh_authz_denied_total", "reason=\"no_rule\""),
        1.0,
        "{text}"
    );
}
