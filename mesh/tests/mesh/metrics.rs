//! Per-RPC metrics: every call counted and timed by method and status,
//! refusals included, with a bounded label set.

use mesh::testing::{TestPki, eventually, metric, raw_channel};
use mesh_proto::auth::v1::{ExchangeTokenRequest, GetJwksRequest, auth_client::AuthClient};

use crate::fixture::{self, scrape};

#[tokio::test]
async fn rpcs_are_counted_by_method_and_code() {
    let pki = TestPki::new();
    let (server, _) = fixture::start(&pki).await;
    let ca = pki.dir().ca_cert();
    let allowed = raw_channel(&(&pki.files("orders")).into(), &ca, server.grpc_addr);
    let denied = raw_channel(&(&pki.files("gateway")).into(), &ca, server.grpc_addr);
    AuthClient::new(allowed.clone())
        .get_jwks(GetJwksRequest {})
        .await
        .expect("ok");
    AuthClient::new(allowed.clone())
        .get_jwks(GetJwksRequest {})
        .await
        .expect("ok");
    AuthClient::new(denied)
        .get_jwks(GetJwksRequest {})
        .await
        .expect_err("denied");
    AuthClient::new(allowed)
        .exchange_token(ExchangeTokenRequest::default())
        .await
        .expect_err("not in the table");

    // The last response may still be finishing its trailers on the server.
    let text = eventually(std::time::Duration::from_secs(5), || async {
        let text = scrape(&server).await;
        (metric(
            &text,
            "mesh_rpc_requests_total",
            "code=\"PERMISSION_DENIED\"",
        ) >= 2.0)
            .then_some(text)
    })
    .await
    .expect("all four calls recorded");
    let method = "method=\"/auth.v1.Auth/GetJwks\"";
    let series = |code: &str| format!("{method},code=\"{code}\"");
    assert_eq!(
        metric(&text, "mesh_rpc_requests_total", &series("OK")),
        2.0,
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            "mesh_rpc_requests_total",
            &series("PERMISSION_DENIED")
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            "mesh_rpc_requests_total",
            "method=\"unknown\",code=\"PERMISSION_DENIED\""
        ),
        1.0,
        "an unlisted method is labelled unknown:\n{text}"
    );
    assert_eq!(
        metric(&text, "mesh_rpc_duration_seconds_count", &series("OK")),
        2.0,
        "{text}"
    );
}

/// A fresh workload, before any request: every security counter it can
/// bump is already exported at 0, so `rate()` and `absent()` work from the
/// first scrape and an alert sees the first event as an increase.
#[tokio::test]
async fn security_counters_start_at_zero() {
    let pki = TestPki::new();
    let (auth, _keys) = crate::tokens_fixture::start_key_server(&pki).await;
    let (server, _) =
        crate::tokens_fixture::start_echo(&pki, mesh::ORDERS, &auth, |_| {}, None).await;
    let text = scrape(&server).await;
    let method = "method=\"/auth.v1.Auth/ExchangeToken\"";
    for (series, labels) in [
        ("mesh_auth_failures_total", "reason=\"bad_signature\""),
        ("mesh_auth_failures_total", "reason=\"unknown_kid\""),
        ("mesh_auth_failures_total", "reason=\"alg_not_allowed\""),
        ("mesh_auth_failures_total", "reason=\"no_client_cert\""),
        ("mesh_auth_failures_total", "reason=\"revocations_stale\""),
        (
            "mesh_authz_denied_total",
            "method=\"unknown\",reason=\"no_rule\"",
        ),
        (
            "mesh_authz_denied_total",
            &format!("{method},reason=\"missing_role\""),
        ),
        ("mesh_tls_handshake_failures_total", "reason=\"not_tls\""),
        ("mesh_tls_handshake_failures_total", "reason=\"unknown_ca\""),
        ("mesh_tls_handshake_failures_total", "reason=\"overloaded\""),
        ("mesh_jwks_refresh_total", "result=\"error\""),
        ("mesh_jwks_refresh_total", "result=\"throttled\""),
        ("mesh_revocation_refresh_total", "result=\"error\""),
        ("mesh_cert_reloads_total", "result=\"error\""),
    ] {
        let line = format!("{series}{{");
        let present = text
            .lines()
            .any(|l| l.starts_with(&line) && l.contains(labels) && l.ends_with(" 0"));
        assert!(
            present,
            "no {series}{{{labels}}} at 0 on a fresh workload:\n{text}"
        );
    } // The certificate's lifetime, for an expiry alert relative to it.
    let start = metric(&text, "mesh_cert_not_before_timestamp_seconds", "service=");
    let end = metric(&text, "mesh_cert_expiry_timestamp_seconds", "service=");
    assert!(start > 1.7e9 && end > start, "{start}..{end}:\n{text}");
}
