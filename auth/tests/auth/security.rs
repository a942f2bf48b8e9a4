//! Cases 17-23 and 44 of docs/security-cases.md, one test each, against the real
//! server. Each also checks the matching `mesh_*` counter.

use std::time::Duration;

use http_body_util::Full;
use hyper::{Request, body::Bytes};
use mesh::testing::{ClientCert, raw_channel};
use mesh_proto::auth::v1::{ExchangeTokenRequest, GetJwksRequest, auth_client::AuthClient};

use crate::{
    exchange::{client_auth, exchange, exchange_as},
    https::Reply,
    refresh::refresh,
    support::{Options, TestAuth, basic, decode, post, secret},
};

/// Members a public JWK may have.
const PUBLIC_MEMBERS: &[&str] = &["kty", "kid", "use", "alg", "crv", "x", "y", "n", "e"];

fn assert_public_only(jwks: &serde_json::Value) {
    for key in jwks["keys"].as_array().expect("keys") {
        for member in key.as_object().expect("JWK object").keys() {
            assert!(
                PUBLIC_MEMBERS.contains(&member.as_str()),
                "JWKS exposes '{member}': {key}"
            );
        }
        for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
            assert!(key.get(private).is_none());
        }
    }
}

#[tokio::test]
async fn case_17_the_jwks_never_exposes_private_key_material() {
    for alg in ["ES256", "RS256", "EdDSA"] {
        let auth = TestAuth::start_with(Options::args(&[
            "--signing-alg",
            alg,
            "--enable-password-grant",
        ]))
        .await;
        // A pending key too: rotate, so the set holds two keys.
        let admin = auth
            .login(
                "meshctl",
                "ada",
                &[("scope", "admin"), ("audience", "auth")],
            )
            .await;
        let bearer = format!("Bearer {}", admin["access_token"].as_str().expect("token"));
        let reply = auth
            .client()
            .post_form("/admin/keys/rotate", "", &[("authorization", bearer)])
            .await;
        assert_eq!(reply.status, 200);
        let jwks = auth.jwks().await;
        assert_eq!(jwks["keys"].as_array().map(Vec::len), Some(2), "{alg}");
        assert_public_only(&jwks);

        let gateway = ClientCert::from(&auth.pki.files("gateway"));
        let over_grpc = AuthClient::new(raw_channel(&gateway, &auth.ca(), auth.grpc))
            .get_jwks(GetJwksRequest {})
            .await
            .expect("jwks")
            .into_inner();
        assert_public_only(&serde_json::from_str(&over_grpc.jwks_json).expect("JSON"));
    }
}

#[tokio::test]
async fn case_18_bad_client_credentials_are_invalid_client_and_slowed_down() {
    let auth = TestAuth::start().await;
    let grant = [("grant_type", "client_credentials")];
    let body = serde_urlencoded::to_string(grant).expect("form");
    let with = |id: &str, secret: &str| vec![("authorization", basic(id, secret))];

    let wrong = auth
        .client()
        .post_form("/oauth2/token", &body, &with("gateway", "wrong"))
        .await;
    assert_eq!(
        (wrong.status.as_u16(), wrong.error()),
        (401, "invalid_client".to_owned())
    );
    assert!(
        wrong
            .header("www-authenticate")
            .is_some_and(|v| v.starts_with("Basic realm="))
    );
    assert_eq!(wrong.header("cache-control"), Some("no-store"));
    // An unknown client gets the very same answer: no oracle for client ids.
    let unknown = auth
        .client()
        .post_form("/oauth2/token", &body, &with("nobody", "x"))
        .await;
    assert_eq!((unknown.status, &unknown.body), (wrong.status, &wrong.body));
    // client_secret_post is checked the same way.
    let posted = [
        ("grant_type", "client_credentials"),
        ("client_id", "gateway"),
        ("client_secret", "nope"),
    ];
    assert_eq!(
        post(&auth.client(), "/oauth2/token", &posted, None)
            .await
            .status,
        401
    );

    // Two more failures: the client is now blocked, even with its secret.
    for _ in 0..2 {
        auth.client()
            .post_form("/oauth2/token", &body, &with("gateway", "guess"))
            .await;
    }
    let blocked = auth.token("gateway", &grant).await;
    assert_eq!(
        (blocked.status.as_u16(), blocked.error()),
        (401, "invalid_client".to_owned())
    );
    assert_eq!(blocked.header("retry-after"), Some("1"));
    // Other clients are not affected, and the block is bounded.
    assert_eq!(auth.token("loadgen", &grant).await.status, 200);
    auth.advance(Duration::from_secs(1));
    assert_eq!(auth.token("gateway", &grant).await.status, 200);

    let metrics = auth.metrics().await;
    let count = |reason: &str| {
        mesh::testing::metric(
            &metrics,
            "mesh_auth_failures_total",
            &format!("reason=\"{reason}\""),
        )
    };
    assert_eq!(count("bad_client_secret"), 4.0);
    assert_eq!(count("unknown_client"), 1.0);
    assert_eq!(count("client_backoff"), 1.0);
}

#[tokio::test]
async fn case_19_scope_beyond_the_registration_is_invalid_scope() {
    let auth = TestAuth::start().await;
    let registered = ["accounts:read", "orders:read", "payments:read"];
    for requested in [
        "admin",
        "orders:write",
        "orders:read orders:write",
        "unknown:scope",
        "bad\"scope",
    ] {
        let reply = auth
            .token(
                "gateway",
                &[("grant_type", "client_credentials"), ("scope", requested)],
            )
            .await;
        assert_eq!(
            (reply.status.as_u16(), reply.error()),
            (400, "invalid_scope".to_owned()),
            "{requested}"
        );
    }
    for requested in [
        None,
        Some("orders:read"),
        Some("payments:read accounts:read"),
    ] {
        let extra: Vec<(&str, &str)> = requested.map(|s| ("scope", s)).into_iter().collect();
        let token = auth.client_token("gateway", &extra).await;
        let scope = decode(&token).1["scope"]
            .as_str()
            .expect("scope")
            .to_owned();
        assert!(scope.split(' ').all(|s| registered.contains(&s)), "{scope}");
    }
    assert_eq!(
        auth.metric("mesh_authz_denied_total", r#"reason="invalid_scope""#)
            .await,
        5.0
    );
}

#[tokio::test]
async fn case_20_client_credentials_never_returns_a_refresh_token() {
    let auth = TestAuth::start().await;
    for client in ["gateway", "loadgen"] {
        for scope in [None, Some("orders:read")] {
            let mut params = vec![("grant_type", "client_credentials")];
            params.extend(scope.map(|s| ("scope", s)));
            let body = auth.token(client, &params).await.json();
            let mut members: Vec<&str> = body
                .as_object()
                .expect("object")
                .keys()
                .map(String::as_str)
                .collect();
            members.sort_unstable();
            assert_eq!(
                members,
                ["access_token", "expires_in", "scope", "token_type"],
                "{client}"
            );
        }
    }
}

#[tokio::test]
async fn case_21_a_reused_refresh_token_revokes_its_whole_family() {
    let auth = TestAuth::start_with(Options::args(&["--enable-password-grant"])).await;
    let login = auth.login("meshctl", "maria", &[]).await;
    let first = login["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_owned();
    let rotated = refresh(&auth, "meshctl", &first, None).await.json();
    let second = rotated["refresh_token"]
        .as_str()
        .expect("rotated")
        .to_owned();
    assert_ne!(first, second);
    let access = rotated["access_token"].as_str().expect("access").to_owned();
    assert_eq!(auth.introspect("meshctl", &access).await["active"], true);

    let reuse = refresh(&auth, "meshctl", &first, None).await;
    assert_eq!(
        (reuse.status.as_u16(), reuse.error()),
        (400, "invalid_grant".to_owned())
    );
    // The legitimate holder's newer token is revoked with the family, and
    // so are the access tokens the family issued.
    assert_eq!(
        refresh(&auth, "meshctl", &second, None).await.error(),
        "invalid_grant"
    );
    assert_eq!(
        auth.introspect("meshctl", &access).await,
        serde_json::json!({"active": false})
    );
    let first_access = login["access_token"].as_str().expect("access");
    assert_eq!(
        auth.introspect("meshctl", first_access).await["active"],
        false
    );
    assert_eq!(
        auth.metric(
            "mesh_auth_failures_total",
            r#"reason="refresh_token_reuse""#
        )
        .await,
        1.0
    );
    // Another login of the same user is unaffected.
    let other = auth.login("meshctl", "maria", &[]).await;
    let token = other["refresh_token"].as_str().expect("refresh token");
    assert_eq!(refresh(&auth, "meshctl", token, None).await.status, 200);
}

#[tokio::test]
async fn case_22_token_exchange_only_for_workloads_and_never_widening() {
    let auth = TestAuth::start_with(Options::args(&["--enable-password-grant"])).await;
    let login = auth
        .login("meshctl", "alice", &[("scope", "orders:read")])
        .await;
    let subject = login["access_token"].as_str().expect("token");

    // Not a mesh workload on the gRPC door: refused before any handler.
    let anonymous = raw_channel(&ClientCert::None, &auth.ca(), auth.grpc);
    let refused = AuthClient::new(anonymous)
        .exchange_token(ExchangeTokenRequest {
            subject_token: subject.to_owned(),
            audience: "orders".to_owned(),
            scope: String::new(),
        })
        .await
        .expect_err("no workload identity");
    assert_ne!(refused.code(), tonic::Code::Ok);

    // A workload, but more scope than the subject token has.
    let wider = exchange_as(
        &auth,
        "gateway",
        subject,
        "orders",
        "orders:read orders:write",
    )
    .await
    .expect_err("wider");
    assert_eq!(wider.code(), tonic::Code::PermissionDenied);
    assert!(wider.message().contains("invalid_scope"), "{wider:?}");
    exchange_as(&auth, "gateway", subject, "orders", "orders:read")
        .await
        .expect("the same scope");
}

/// Case 44: the public token endpoint never takes a TLS peer's identity
/// for an OAuth client. A proxy's certificate (the gateway's) without
/// client authentication gets `invalid_client`; an authenticated client
/// without exchange rights gets `invalid_target`; `act` only ever names
/// an authenticated actor.
#[tokio::test]
async fn case_44_public_token_exchange_needs_client_authentication() {
    let auth = TestAuth::start_with(Options::args(&["--enable-password-grant"])).await;
    let login = auth.login("meshctl", "alice", &[]).await;
    let subject = login["access_token"].as_str().expect("token");

    for (who, https) in [
        ("an outsider", auth.client()),
        ("the gateway's certificate", auth.workload("gateway")),
        ("orders' certificate", auth.workload("orders")),
    ] {
        let reply = exchange(&https, subject, "accounts", None, &[]).await;
        assert_eq!(
            (reply.status.as_u16(), reply.error()),
            (401, "invalid_client".to_owned()),
            "{who}"
        );
    }
    assert_eq!(
        auth.metric(
            "mesh_auth_failures_total",
            r#"reason="no_client_credentials""#
        )
        .await,
        3.0
    );

    // A real client, but the config gives it no exchange rights.
    let loadgen = exchange(
        &auth.client(),
        subject,
        "accounts",
        None,
        &client_auth("loadgen"),
    )
    .await;
    assert_eq!(
        (loadgen.status.as_u16(), loadgen.error()),
        (400, "invalid_target".to_owned())
    );
    // Nor does its own client secret plus the gateway's certificate help.
    let both = exchange(
        &auth.workload("gateway"),
        subject,
        "accounts",
        None,
        &client_auth("loadgen"),
    )
    .await;
    assert_eq!(both.error(), "invalid_target");
    assert_eq!(
        auth.metric("mesh_tokens_issued_total", r#"grant_type="token_exchange""#)
            .await,
        0.0
    );
}

/// A malformed request body, and the answer it must get.
type BadBody<'a> = (&'a str, Option<&'a str>, Vec<u8>, u16, &'a str);

/// Sends `body` to `path` with `content_type`.
async fn raw(auth: &TestAuth, path: &str, content_type: Option<&str>, body: Vec<u8>) -> Reply {
    let mut request = Request::post(path);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    request = request.header("authorization", basic("gateway", &secret("gateway")));
    let request = request.body(Full::new(Bytes::from(body))).expect("request");
    auth.client().send(request).await
}

#[tokio::test]
async fn case_23_malformed_oversized_or_mistyped_bodies_are_oauth_errors() {
    let auth = TestAuth::start().await;
    let form = Some("application/x-www-form-urlencoded");
    let many: String = (0..40).map(|i| format!("p{i}=x&")).collect();
    let scopes: String = (0..100).map(|i| format!("s{i} ")).collect();
    let cases: Vec<BadBody<'_>> = vec![
        (
            "json body",
            Some("application/json"),
            br#"{"grant_type":"client_credentials"}"#.to_vec(),
            400,
            "invalid_request",
        ),
        (
            "no content type",
            None,
            b"grant_type=client_credentials".to_vec(),
            400,
            "invalid_request",
        ),
        (
            "multipart",
            Some("multipart/form-data; boundary=x"),
            b"--x--".to_vec(),
            400,
            "invalid_request",
        ),
        (
            "oversized",
            form,
            vec![b'a'; 17 * 1024],
            413,
            "invalid_request",
        ),
        (
            "repeated grant_type",
            form,
            b"grant_type=client_credentials&grant_type=password".to_vec(),
            400,
            "invalid_request",
        ),
        (
            "missing grant_type",
            form,
            b"scope=orders:read".to_vec(),
            400,
            "invalid_request",
        ),
        ("empty body", form, Vec::new(), 400, "invalid_request"),
        (
            "unknown grant",
            form,
            b"grant_type=authorization_code".to_vec(),
            400,
            "unsupported_grant_type",
        ),
        (
            "binary garbage",
            form,
            vec![0xff, 0x00, 0xfe, b'=', 0x80, b'&', b'&'],
            400,
            "invalid_request",
        ),
        (
            "too many parameters",
            form,
            many.into_bytes(),
            400,
            "invalid_request",
        ),
        (
            "huge scope",
            form,
            format!("grant_type=client_credentials&scope={}", scopes.trim()).into_bytes(),
            400,
            "invalid_scope",
        ),
        (
            "scope of wrong shape",
            form,
            b"grant_type=client_credentials&scope=a%20%20b".to_vec(),
            400,
            "invalid_scope",
        ),
    ];
    for (name, content_type, body, status, error) in cases {
        for path in ["/oauth2/token", "/oauth2/introspect", "/oauth2/revoke"] {
            let reply = raw(&auth, path, content_type, body.clone()).await;
            if path != "/oauth2/token" && error != "invalid_request" {
                // Grant-specific errors only exist at the token endpoint.
                assert!(
                    reply.status.is_client_error(),
                    "{name} at {path}: {}",
                    reply.status
                );
                continue;
            }
            assert_eq!(reply.status.as_u16(), status, "{name} at {path}");
            assert_eq!(reply.error(), error, "{name} at {path}");
            assert_eq!(reply.header("cache-control"), Some("no-store"), "{name}");
        }
    }
    // Wrong method: refused by the router, never a 500.
    let reply = auth.client().get("/oauth2/token").await;
    assert_eq!(reply.status, 405);
    let metrics = auth.metrics().await;
    assert!(!metrics.contains("server_error"), "{metrics}");
}

/// Revoking in a loop cannot grow the revocation feed every workload
/// holds without bound: past its quota per minute a client gets 503 with
/// `Retry-After` (RFC 7009 §2.2.1), counted as a rate-limit rejection.
#[tokio::test]
async fn revocations_are_limited_per_client() {
    let auth = TestAuth::start().await;
    let mut conn = auth.client().connect().await;
    let header = vec![("authorization", basic("loadgen", &secret("loadgen")))];
    let body = "token=not-a-token";
    for n in 0..600 {
        let reply = conn.post_form("/oauth2/revoke", body, &header).await;
        assert_eq!(reply.status, 200, "revocation {n}");
    }
    let refused = conn.post_form("/oauth2/revoke", body, &header).await;
    assert_eq!(refused.status, 503);
    assert_eq!(refused.error(), "temporarily_unavailable");
    assert!(refused.header("retry-after").is_some());
    assert_eq!(
        auth.metric("mesh_ratelimit_rejected_total", r#"key="revocations""#)
            .await,
        1.0
    );
    // Another client is not affected, and the next minute starts afresh.
    let other = vec![("authorization", basic("gateway", &secret("gateway")))];
    assert_eq!(
        conn.post_form("/oauth2/revoke", body, &other).await.status,
        200
    );
    auth.advance(Duration::from_secs(60));
    assert_eq!(
        conn.post_form("/oauth2/revoke", body, &header).await.status,
        200
    );
}
