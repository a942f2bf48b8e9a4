//! Workload identity over mutual TLS: who gets in and who does not.

use std::time::Duration;

use mesh::testing::{ClientCert, TestPki, eventually, metric, plaintext_channel, raw_channel};
use mesh_proto::auth::v1::auth_server::SERVICE_NAME;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;

use crate::fixture::{self, health, scrape};

/// Waits until the server has counted a handshake failure for `reason`.
async fn handshake_failure_counted(server: &mesh::testing::Running, reason: &str) {
    let label = format!("reason=\"{reason}\"");
    let counted = eventually(Duration::from_secs(5), || async {
        let text = scrape(server).await;
        (metric(&text, "mesh_tls_handshake_failures_total", &label) >= 1.0).then_some(())
    })
    .await;
    assert!(
        counted.is_some(),
        "no handshake failure counted for {reason}:\n{}",
        scrape(server).await
    );
}

#[tokio::test]
async fn a_valid_workload_gets_serving() {
    let pki = TestPki::new();
    let (server, _) = fixture::start(&pki).await;
    let channel = raw_channel(
        &(&pki.files("gateway")).into(),
        &pki.dir().ca_cert(),
        server.grpc_addr,
    );
    assert_eq!(
        health(channel.clone(), "").await.expect("health"),
        ServingStatus::Serving
    );
    assert_eq!(
        health(channel, SERVICE_NAME).await.expect("health"),
        ServingStatus::Serving
    );
    let (status, body) = mesh::testing::http_get(server.admin_addr, "/readyz").await;
    assert_eq!(status, 200, "{body}");
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn no_client_certificate_is_refused_on_the_first_call() {
    let pki = TestPki::new();
    let (server, _) = fixture::start(&pki).await;
    let channel = raw_channel(&ClientCert::None, &pki.dir().ca_cert(), server.grpc_addr);
    let error = health(channel, "").await.expect_err("must be refused");
    assert_ne!(error.code(), Code::Ok);
    handshake_failure_counted(&server, "no_client_cert").await;
}

#[tokio::test]
async fn plaintext_h2c_is_refused() {
    let pki = TestPki::new();
    let (server, _) = fixture::start(&pki).await;
    health(plaintext_channel(server.grpc_addr), "")
        .await
        .expect_err("must be refused");
    handshake_failure_counted(&server, "not_tls").await;
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused() {
    let pki = TestPki::new();
    let other = TestPki::new();
    let (server, _) = fixture::start(&pki).await;
    let channel = raw_channel(
        &(&other.files("gateway")).into(),
        &pki.dir().ca_cert(),
        server.grpc_addr,
    );
    health(channel, "").await.expect_err("must be refused");
    // The impostor CA has the same name as ours, so the chain is built and
    // its signature fails to verify.
    handshake_failure_counted(&server, "bad_signature").await;
}

#[tokio::test]
async fn a_self_signed_certificate_is_refused() {
    let pki = TestPki::new();
    let (server, _) = fixture::start(&pki).await;
    let files = pki.write(
        "selfsigned",
        &pki.spec("gateway").self_signed().expect("self-signed"),
    );
    let channel = raw_channel(&(&files).into(), &pki.dir().ca_cert(), server.grpc_addr);
    health(channel, "").await.expect_err("must be refused");
    handshake_failure_counted(&server, "unknown_ca").await;
}

#[tokio::test]
async fn an_expired_certificate_is_refused() {
    let pki = TestPki::new();
    let (server, _) = fixture::start(&pki).await;
    let mut spec = pki.spec("gateway");
    spec.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(2);
    spec.not_after = time::OffsetDateTime::now_utc() - time::Duration::days(1);
    let files = pki.write("expired", &pki.ca().issue(&spec).expect("issue"));
    let channel = raw_channel(&(&files).into(), &pki.dir().ca_cert(), server.grpc_addr);
    health(channel, "").await.expect_err("must be refused");
    handshake_failure_counted(&server, "cert_expired").await;
}

#[tokio::test]
async fn a_not_yet_valid_certificate_is_refused() {
    let pki = TestPki::new();
    let (server, _) = fixture::start(&pki).await;
    let mut spec = pki.spec("gateway");
    spec.not_before = time::OffsetDateTime::now_utc() + time::Duration::days(1);
    spec.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(2);
    let files = pki.write("future", &pki.ca().issue(&spec).expect("issue"));
    let channel = raw_channel(&(&files).into(), &pki.dir().ca_cert(), server.grpc_addr);
    health(channel, "").await.expect_err("must be refused");
    handshake_failure_counted(&server, "cert_not_yet_valid").await;
}

#[tokio::test]
async fn a_ca_certificate_used_as_a_leaf_is_refused() {
    let pki = TestPki::new();
    let (server, _) = fixture::start(&pki).await;
    let mut spec = pki.spec("gateway");
    spec.is_ca = true;
    let files = pki.write("ca-leaf", &pki.ca().issue(&spec).expect("issue"));
    let channel = raw_channel(&(&files).into(), &pki.dir().ca_cert(), server.grpc_addr);
    let error = health(channel, "").await.expect_err("must be refused");
    assert_ne!(error.code(), Code::Ok);
}

/// Certificates that chain to the mesh CA but do not name exactly one
/// SPIFFE ID of our trust domain: the connection is up, every call is
/// UNAUTHENTICATED, and the handler never runs.
async fn refused_identity(mutate: impl FnOnce(&mut mesh::pki::LeafSpec), reason: &str) {
    let pki = TestPki::new();
    let (server, probe) = fixture::start(&pki).await;
    let mut spec = pki.spec("orders");
    mutate(&mut spec);
    let files = pki.write("odd", &pki.ca().issue(&spec).expect("issue"));
    let channel = raw_channel(&(&files).into(), &pki.dir().ca_cert(), server.grpc_addr);
    let error = health(channel.clone(), "")
        .await
        .expect_err("must be refused");
    assert_eq!(error.code(), Code::Unauthenticated, "{error}");
    let mut client = mesh_proto::auth::v1::auth_client::AuthClient::new(channel);
    let error = client
        .get_jwks(mesh_proto::auth::v1::GetJwksRequest {})
        .await
        .expect_err("refused");
    assert_eq!(error.code(), Code::Unauthenticated, "{error}");
    assert_eq!(probe.calls(), 0, "the handler must not run");
    let text = scrape(&server).await;
    assert!(
        metric(
            &text,
            "mesh_auth_failures_total",
            &format!("reason=\"{reason}\"")
        ) >= 2.0,
        "auth failures by {reason} not counted:\n{text}"
    );
}

#[tokio::test]
async fn a_spiffe_id_from_another_trust_domain_is_unauthenticated() {
    refused_identity(
        |s| s.uris = vec!["spiffe://evil.example/orders".to_owned()],
        "foreign_trust_domain",
    )
    .await;
}

#[tokio::test]
async fn two_uri_sans_are_unauthenticated() {
    refused_identity(
        |s| s.uris.push("spiffe://mesh.local/payments".to_owned()),
        "multiple_uri_sans",
    )
    .await;
}

#[tokio::test]
async fn no_uri_san_is_unauthenticated() {
    refused_identity(|s| s.uris.clear(), "no_uri_san").await;
}

#[tokio::test]
async fn a_uri_san_that_is_not_spiffe_is_unauthenticated() {
    refused_identity(
        |s| s.uris = vec!["https://mesh.local/orders".to_owned()],
        "not_spiffe",
    )
    .await;
}

#[tokio::test]
async fn outgoing_channels_check_the_upstream_identity() {
    let pki = TestPki::new();
    let (server, _) = fixture::start(&pki).await;
    let orders = pki.tls("orders");
    // The fixture runs as `accounts`: calling it as `accounts` works …
    let right =
        mesh::Upstream::new(&orders, "accounts", &server.grpc_addr.to_string()).expect("upstream");
    assert_eq!(
        health(right.raw_channel(), "").await.expect("health"),
        ServingStatus::Serving
    );
    // … and expecting `payments` at that address fails before any request is sent.
    let wrong =
        mesh::Upstream::new(&orders, "payments", &server.grpc_addr.to_string()).expect("upstream");
    let error = health(wrong.raw_channel(), "")
        .await
        .expect_err("wrong identity");
    assert_eq!(error.code(), Code::Unavailable, "{error}");
}

/// Case 51: a workload key (or the CA key) that group or others may read
/// is refused, naming the file and the fix, instead of being loaded.
#[test]
fn case_51_a_key_file_open_to_others_is_refused() {
    use std::os::unix::fs::PermissionsExt;

    let pki = TestPki::new();
    let files = pki.files("accounts");
    let chmod = |path: &std::path::Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    };
    chmod(&files.key, 0o644);
    let error = mesh::tls::MeshTls::load(files.clone(), pki.trust_domain().clone(), "accounts")
        .expect_err("a world-readable key");
    let message = error.to_string();
    assert!(
        message.contains(&format!("chmod 600 {}", files.key.display())) && message.contains("0644"),
        "{message}"
    );
    chmod(&files.key, 0o600);
    mesh::tls::MeshTls::load(files, pki.trust_domain().clone(), "accounts")
        .expect("an owner-only key loads");

    let ca_key = pki.dir().ca_key();
    chmod(&ca_key, 0o640);
    let error = pki.dir().load_ca().expect_err("a group-readable CA key");
    assert!(error.to_string().contains("chmod 600"), "{error}");
}
