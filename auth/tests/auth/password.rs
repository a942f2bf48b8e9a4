//! The password grant (development only): users get their roles and at
//! most their scopes, and only when the server enables the grant.

use crate::support::{Options, TestAuth, decode, password};

const ENABLED: &[&str] = &["--enable-password-grant"];

#[tokio::test]
async fn the_password_grant_is_off_unless_enabled() {
    let auth = TestAuth::start().await;
    let pw = password("alice");
    let params = [
        ("grant_type", "password"),
        ("username", "alice"),
        ("password", pw.as_str()),
    ];
    let reply = auth.token("meshctl", &params).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.error(), "unsupported_grant_type");
    let discovery = auth
        .client()
        .get("/.well-known/openid-configuration")
        .await
        .json();
    let grants = discovery["grant_types_supported"]
        .as_array()
        .expect("grants");
    assert!(!grants.iter().any(|g| g == "password"));
}

#[tokio::test]
async fn users_get_their_roles_and_at_most_their_scopes() {
    let auth = TestAuth::start_with(Options::args(ENABLED)).await;
    let body = auth.login("meshctl", "alice", &[]).await;
    assert!(
        body["refresh_token"]
            .as_str()
            .is_some_and(|t| t.len() == 43 && !t.contains('.'))
    );
    let (_, claims) = decode(body["access_token"].as_str().expect("token"));
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["client_id"], "meshctl");
    assert_eq!(claims["roles"], serde_json::json!(["USER"]));
    assert_eq!(claims["aud"], serde_json::json!(["gateway"]));
    // The client may ask for everything; a USER holds only this much.
    assert_eq!(
        claims["scope"],
        "accounts:read accounts:write orders:read orders:write payments:read"
    );

    let pw = password("alice");
    let params = [
        ("grant_type", "password"),
        ("username", "alice"),
        ("password", pw.as_str()),
        ("scope", "orders:read admin"),
    ];
    let reply = auth.token("meshctl", &params).await;
    assert_eq!(
        (reply.status.as_u16(), reply.error()),
        (400, "invalid_scope".to_owned())
    );

    let body = auth
        .login(
            "meshctl",
            "ada",
            &[("scope", "admin"), ("audience", "auth")],
        )
        .await;
    let (_, claims) = decode(body["access_token"].as_str().expect("token"));
    assert_eq!(claims["roles"], serde_json::json!(["ADMIN"]));
    assert_eq!(claims["scope"], "admin");
    assert_eq!(claims["aud"], serde_json::json!(["auth"]));
    assert_eq!(
        auth.metric("mesh_tokens_issued_total", r#"grant_type="password""#)
            .await,
        2.0
    );
}

#[tokio::test]
async fn wrong_passwords_and_unknown_users_are_invalid_grant() {
    let auth = TestAuth::start_with(Options::args(ENABLED)).await;
    for (user, pw) in [("alice", "wrong"), ("mallory", "whatever"), ("alice", "")] {
        let params = [
            ("grant_type", "password"),
            ("username", user),
            ("password", pw),
        ];
        let reply = auth.token("meshctl", &params).await;
        assert_eq!(reply.status, 400, "{user}");
        let body = reply.json();
        let expected = if pw.is_empty() {
            "invalid_request"
        } else {
            "invalid_grant"
        };
        assert_eq!(body["error"], expected, "{user}");
    }
    // A client without the grant cannot log users in, even with a good password.
    let pw = password("alice");
    let params = [
        ("grant_type", "password"),
        ("username", "alice"),
        ("password", pw.as_str()),
    ];
    let reply = auth.token("gateway", &params).await;
    assert_eq!(reply.error(), "unauthorized_client");
    let failures = auth.metrics().await;
    assert_eq!(
        mesh::testing::metric(
            &failures,
            "mesh_auth_failures_total",
            r#"reason="bad_user_password""#
        ),
        1.0
    );
    assert_eq!(
        mesh::testing::metric(
            &failures,
            "mesh_auth_failures_total",
            r#"reason="unknown_user""#
        ),
        1.0
    );
}

#[tokio::test]
async fn repeated_wrong_passwords_for_a_user_are_slowed_down() {
    let auth = TestAuth::start_with(Options::args(ENABLED)).await;
    for _ in 0..4 {
        let params = [
            ("grant_type", "password"),
            ("username", "bob"),
            ("password", "guess"),
        ];
        assert_eq!(
            auth.token("meshctl", &params).await.error(),
            "invalid_grant"
        );
    }
    // Blocked now, even with the right password; alice is unaffected.
    let pw = password("bob");
    let params = [
        ("grant_type", "password"),
        ("username", "bob"),
        ("password", pw.as_str()),
    ];
    let reply = auth.token("meshctl", &params).await;
    assert_eq!(reply.error(), "invalid_grant");
    assert_eq!(
        auth.metric("mesh_auth_failures_total", r#"reason="user_backoff""#)
            .await,
        1.0
    );
    auth.login("meshctl", "alice", &[]).await;
    auth.advance(std::time::Duration::from_secs(1));
    auth.login("meshctl", "bob", &[]).await;
}
