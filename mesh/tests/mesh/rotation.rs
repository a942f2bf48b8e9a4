//! Certificate rotation while traffic flows: new handshakes use the new
//! certificate, calls in flight and after keep working.

use mesh::testing::{TestPki, metric, raw_channel};
use tonic_health::pb::health_check_response::ServingStatus;

use crate::fixture::{self, health, scrape};

#[tokio::test]
async fn a_rotated_certificate_is_used_without_a_restart() {
    let pki = TestPki::new();
    let (server, _) = fixture::start(&pki).await;
    let before = server.tls.not_after();

    // Traffic on an existing connection runs through the rotation.
    let channel = raw_channel(
        &(&pki.files("gateway")).into(),
        &pki.dir().ca_cert(),
        server.grpc_addr,
    );
    let traffic = tokio::spawn(async move {
        for _ in 0..200 {
            assert_eq!(
                health(channel.clone(), "")
                    .await
                    .expect("call during rotation"),
                ServingStatus::Serving
            );
        }
    });

    let mut spec = pki.spec("accounts");
    spec.not_after += time::Duration::hours(5);
    pki.write("accounts", &pki.ca().issue(&spec).expect("issue"));
    assert!(
        server
            .tls
            .reload_if_changed()
            .expect("rotated files are valid"),
        "change detected"
    );
    assert!(
        server.tls.not_after() > before,
        "the new certificate is in use"
    );
    assert!(
        !server.tls.reload_if_changed().expect("no change"),
        "unchanged files are not reloaded"
    );

    traffic.await.expect("no failed call during rotation");
    // New connections handshake with the new certificate.
    let fresh = raw_channel(
        &(&pki.files("orders")).into(),
        &pki.dir().ca_cert(),
        server.grpc_addr,
    );
    assert_eq!(
        health(fresh, "").await.expect("new connection"),
        ServingStatus::Serving
    );
}

#[tokio::test]
async fn unusable_rotated_files_keep_the_current_certificate() {
    let pki = TestPki::new();
    let (server, _) = fixture::start(&pki).await;
    let before = server.tls.not_after();
    // A certificate for another workload must not silently change who we are.
    let other = pki.ca().issue(&pki.spec("payments")).expect("issue");
    pki.write("accounts", &other);
    let error = server.tls.reload_if_changed().expect_err("refused");
    assert!(error.to_string().contains("payments"), "{error}");
    assert_eq!(server.tls.not_after(), before);
    let channel = raw_channel(
        &(&pki.files("orders")).into(),
        &pki.dir().ca_cert(),
        server.grpc_addr,
    );
    assert_eq!(
        health(channel, "").await.expect("still serving"),
        ServingStatus::Serving
    );
    let text = scrape(&server).await;
    assert!(
        metric(
            &text,
            "mesh_cert_expiry_timestamp_seconds",
            "service=\"accounts\""
        ) > 0.0,
        "{text}"
    );
}
