//! `auth.v1.WorkloadTokens`: a workload's own token, its certificate the
//! only credential, its scopes from the config.

use mesh::testing::{ClientCert, raw_channel};
use mesh_proto::auth::v1::{GetWorkloadTokenRequest, workload_tokens_client::WorkloadTokensClient};
use serde_json::json;

use crate::support::{TestAuth, decode, verify};

fn client(auth: &TestAuth, workload: &str) -> WorkloadTokensClient<tonic::transport::Channel> {
    let cert = ClientCert::from(&auth.pki.files(workload));
    WorkloadTokensClient::new(raw_channel(&cert, &auth.ca(), auth.grpc))
}

#[tokio::test]
async fn a_workload_gets_a_token_for_itself_with_its_configured_scopes() {
    let auth = TestAuth::start().await;
    let reply = client(&auth, "orders")
        .get_workload_token(GetWorkloadTokenRequest::default())
        .await
        .expect("orders may have its own token")
        .into_inner();
    let claims = verify(
        &reply.access_token,
        &auth.jwks().await,
        &auth.issuer,
        "orders",
    );
    assert_eq!(claims["sub"], "spiffe://mesh.local/orders");
    assert_eq!(claims["client_id"], "orders");
    assert_eq!(claims["aud"], json!(["orders", "payments"]));
    assert_eq!(claims["roles"], json!([]));
    assert_eq!(claims["scope"], "orders:read payments:read payments:write");
    assert_eq!(
        auth.metric("mesh_tokens_issued_total", "grant_type=\"workload\"")
            .await,
        1.0
    );

    // Narrower on request, never wider.
    let narrow = client(&auth, "orders")
        .get_workload_token(GetWorkloadTokenRequest {
            scope: "payments:read".to_owned(),
        })
        .await
        .expect("narrower")
        .into_inner();
    assert_eq!(decode(&narrow.access_token).1["scope"], "payments:read");
    let status = client(&auth, "orders")
        .get_workload_token(GetWorkloadTokenRequest {
            scope: "admin".to_owned(),
        })
        .await
        .expect_err("wider");
    assert_eq!(status.code(), tonic::Code::PermissionDenied, "{status:?}");
}

#[tokio::test]
async fn a_workload_the_config_gives_no_token_is_refused() {
    let auth = TestAuth::start().await;
    let status = client(&auth, "gateway")
        .get_workload_token(GetWorkloadTokenRequest::default())
        .await
        .expect_err("the gateway has no scopes of its own");
    assert_ne!(status.code(), tonic::Code::Ok);
    let status = WorkloadTokensClient::new(raw_channel(&ClientCert::None, &auth.ca(), auth.grpc))
        .get_workload_token(GetWorkloadTokenRequest::default())
        .await
        .expect_err("no certificate, no token");
    assert_ne!(status.code(), tonic::Code::Ok);
}
