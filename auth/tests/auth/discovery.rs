//! Discovery: the metadata document leads a verifier to everything else.

use crate::support::{Options, TestAuth};

#[tokio::test]
async fn the_metadata_names_the_issuer_endpoints_grants_and_algorithms() {
    let auth = TestAuth::start_with(Options::args(&["--enable-password-grant"])).await;
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let reply = auth.client().get(path).await;
        assert_eq!(reply.status, 200);
        let meta = reply.json();
        // The mesh-wide --issuer, whose default is the gateway's default
        // public URL: clients reach every endpoint through it.
        let issuer = &auth.issuer;
        assert_eq!(issuer, "https://127.0.0.1:8443");
        assert_eq!(meta["issuer"], *issuer);
        assert_eq!(meta["token_endpoint"], format!("{issuer}/oauth2/token"));
        assert_eq!(meta["jwks_uri"], format!("{issuer}/.well-known/jwks.json"));
        assert_eq!(
            meta["introspection_endpoint"],
            format!("{issuer}/oauth2/introspect")
        );
        assert_eq!(
            meta["revocation_endpoint"],
            format!("{issuer}/oauth2/revoke")
        );
        assert_eq!(
            meta["grant_types_supported"],
            serde_json::json!([
                "client_credentials",
                "password",
                "refresh_token",
                "urn:ietf:params:oauth:grant-type:token-exchange"
            ])
        );
        assert_eq!(
            meta["token_endpoint_auth_methods_supported"],
            serde_json::json!(["client_secret_basic", "client_secret_post"])
        );
        assert_eq!(
            meta["access_token_signing_alg_values_supported"],
            serde_json::json!(["ES256"])
        );
        assert!(
            meta["scopes_supported"]
                .as_array()
                .is_some_and(|s| s.iter().any(|v| v == "orders:read"))
        );
    }
    let jwks = auth.client().get("/.well-known/jwks.json").await;
    assert!(
        jwks.header("cache-control")
            .is_some_and(|v| v.starts_with("public, max-age="))
    );
}

#[tokio::test]
async fn an_explicit_issuer_is_used_verbatim() {
    let auth =
        TestAuth::start_with(Options::args(&["--issuer", "https://auth.mesh.local:7443"])).await;
    assert_eq!(auth.issuer, "https://auth.mesh.local:7443");
    let meta = auth
        .client()
        .get("/.well-known/openid-configuration")
        .await
        .json();
    assert_eq!(
        meta["jwks_uri"],
        "https://auth.mesh.local:7443/.well-known/jwks.json"
    );
    let token = auth.client_token("loadgen", &[]).await;
    assert_eq!(
        crate::support::decode(&token).1["iss"],
        "https://auth.mesh.local:7443"
    );
}

#[tokio::test]
async fn the_admin_port_reports_ready_and_the_issued_tokens() {
    let auth = TestAuth::start().await;
    // Both ports answered, so both have marked themselves ready (they do
    // so before serving their first request).
    auth.client_token("gateway", &[]).await;
    let gateway = mesh::testing::ClientCert::from(&auth.pki.files("gateway"));
    let channel = mesh::testing::raw_channel(&gateway, &auth.ca(), auth.grpc);
    mesh_proto::auth::v1::auth_client::AuthClient::new(channel)
        .get_jwks(mesh_proto::auth::v1::GetJwksRequest {})
        .await
        .expect("gRPC port serving");
    let (status, body) = mesh::testing::http_get(auth.admin, "/readyz").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("oauth_http: ok"), "{body}");
    let text = auth.metrics().await;
    assert!(text.contains("# TYPE mesh_tokens_issued counter"), "{text}");
    assert_eq!(
        mesh::testing::metric(
            &text,
            "mesh_tokens_issued_total",
            r#"grant_type="client_credentials""#
        ),
        1.0
    );
}
