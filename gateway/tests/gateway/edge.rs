//! Security cases at the edge: 14, 15, 33, 35, 36 and 38 of
//! docs/security-cases.md. Each refusal is counted and never reaches the service.

use std::time::Duration;

use mesh::testing::{ClientCert, metric, raw_client_config, tls_connect};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::fixture::Stack;

const INVALID_TOKEN: &str = r#"Bearer realm="mesh", error="invalid_token""#;

#[tokio::test]
async fn a_missing_token_gets_401_with_a_challenge() {
    let s = Stack::start().await;
    let reply = s.rest("GET /v1/orders HTTP/1.1\r\n", "").await;
    assert_eq!(reply.status, 401);
    assert_eq!(
        reply.header("www-authenticate"),
        Some(r#"Bearer realm="mesh""#)
    );
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(s.orders.calls(), 0);
}

#[tokio::test]
async fn case_14_an_oversized_token_is_refused() {
    let s = Stack::start().await;
    let reply = s.call("GET", "/v1/orders", &"a".repeat(9 * 1024), "").await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.header("www-authenticate"), Some(INVALID_TOKEN));
    assert_eq!(s.orders.calls(), 0);
    let text = s.metrics().await;
    assert_eq!(
        metric(
            &text,
            "mesh_auth_failures_total",
            "reason=\"token_too_large\""
        ),
        1.0,
        "{text}"
    );
}

#[tokio::test]
async fn case_15_two_authorization_headers_or_a_token_in_the_url_are_refused() {
    let s = Stack::start().await;
    let token = s.token("alice");
    let head = format!(
        "GET /v1/orders HTTP/1.1\r\nAuthorization: Bearer {token}\r\nAuthorization: Bearer {token}\r\n"
    );
    let reply = s.rest(&head, "").await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.header("www-authenticate"), Some(INVALID_TOKEN));
    let reply = s
        .call(
            "GET",
            &format!("/v1/orders?access_token={token}"),
            &token,
            "",
        )
        .await;
    assert_eq!(
        reply.status, 401,
        "a token in the URL is refused even beside a good header"
    );
    assert!(!reply.body.contains(&token));
    assert_eq!(s.orders.calls(), 0);
}

#[tokio::test]
async fn case_33_an_abusive_subject_is_throttled_and_others_are_not() {
    let s = Stack::start_with(|a| {
        a.gateway.rate_limit_subject = 1.try_into().expect("nonzero");
        a.gateway.rate_limit_burst_factor = 1.try_into().expect("nonzero");
    })
    .await;
    let alice = s.token("alice");
    let replies =
        futures_util::future::join_all((0..5).map(|_| s.call("GET", "/v1/orders/o-1", &alice, "")))
            .await;
    let limited: Vec<_> = replies.iter().filter(|r| r.status == 429).collect();
    assert!(!limited.is_empty(), "alice was never throttled");
    for reply in &limited {
        let after: u64 = reply
            .header("retry-after")
            .and_then(|v| v.parse().ok())
            .expect("Retry-After");
        assert!(after >= 1);
        assert_eq!(
            reply.header("content-type"),
            Some("application/problem+json")
        );
    }
    let bob = s.call("GET", "/v1/orders/o-1", &s.token("bob"), "").await;
    assert_eq!(bob.status, 200, "another subject keeps its own budget");
    let text = s.metrics().await;
    assert!(
        metric(&text, "mesh_ratelimit_rejected_total", "key=\"subject\"") >= 1.0,
        "{text}"
    );
}

#[tokio::test]
async fn case_35_bodies_over_the_limit_are_refused() {
    let s = Stack::start().await;
    let big = format!(r#"{{"accountId":"{}"}}"#, "a".repeat(20 * 1024));
    let reply = s.call("POST", "/v1/orders", &s.token("alice"), &big).await;
    assert_eq!(reply.status, 413, "{}", reply.body);
    assert_eq!(s.orders.calls(), 0);
}

#[tokio::test]
async fn case_38_malformed_bodies_get_a_clear_400() {
    let s = Stack::start().await;
    let token = s.token("alice");
    let deep = format!(r#"{{"items":{}{}}}"#, "[".repeat(5000), "]".repeat(5000));
    for body in [
        "{",
        "not json",
        r#"{"accountId": 5}"#,
        r#"{"items": {"sku": "tea"}}"#,
        r#"{"unexpected": true}"#,
        deep.as_str(),
    ] {
        let reply = s.call("POST", "/v1/orders", &token, body).await;
        assert_eq!(reply.status, 400, "{body:.40}: {}", reply.body);
        assert_eq!(
            reply.header("content-type"),
            Some("application/problem+json")
        );
        assert!(
            reply.json()["detail"]
                .as_str()
                .is_some_and(|d| !d.is_empty())
        );
    }
    let head = format!(
        "POST /v1/orders HTTP/1.1\r\nAuthorization: Bearer {token}\r\nContent-Type: text/plain\r\n"
    );
    assert_eq!(s.rest(&head, r#"{"accountId":"a"}"#).await.status, 415);
    assert_eq!(s.orders.calls(), 0);
}

#[tokio::test]
async fn case_36_slow_clients_are_disconnected() {
    let s = Stack::start_with(|a| {
        a.mesh.limits.handshake_timeout = Duration::from_millis(500);
        a.mesh.limits.idle_timeout = Duration::from_millis(500);
    })
    .await;
    // A TLS handshake that never starts.
    let mut tcp = tokio::net::TcpStream::connect(s.public)
        .await
        .expect("connect");
    let mut buf = [0u8; 16];
    let closed = tokio::time::timeout(Duration::from_secs(10), tcp.read(&mut buf)).await;
    assert!(
        matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
        "the silent connection was not closed"
    );

    // Headers that never finish.
    let mut config = (*raw_client_config(&ClientCert::None, &s.pki.dir().ca_cert())).clone();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let h1 = std::sync::Arc::new(config);
    let mut tls = tls_connect(h1.clone(), s.public).await.expect("TLS");
    tls.write_all(b"GET /v1/orders HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        .await
        .expect("write");
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), tls.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the slow request was not closed");
    assert_eq!(s.orders.calls(), 0);

    // A finished handshake, then nothing (over h2 and HTTP/1.1).
    for alpn in [b"h2".to_vec(), b"http/1.1".to_vec()] {
        let mut config = (*raw_client_config(&ClientCert::None, &s.pki.dir().ca_cert())).clone();
        config.alpn_protocols = vec![alpn.clone()];
        let mut tls = tls_connect(std::sync::Arc::new(config), s.public)
            .await
            .expect("TLS");
        let mut rest = Vec::new();
        let closed =
            tokio::time::timeout(Duration::from_secs(10), tls.read_to_end(&mut rest)).await;
        assert!(
            closed.is_ok(),
            "a silent TLS connection ({}) was not closed",
            String::from_utf8_lossy(&alpn)
        );
    }

    // A kept-alive HTTP/1.1 connection with nothing in flight.
    let mut tls = tls_connect(h1, s.public).await.expect("TLS");
    tls.write_all(b"GET /openapi.json HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .expect("write");
    let mut answer = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), tls.read_to_end(&mut answer)).await;
    assert!(
        closed.is_ok(),
        "the idle keep-alive connection was not closed"
    );
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "the request before going idle was answered: {}",
        String::from_utf8_lossy(&answer[..answer.len().min(100)])
    );
}
