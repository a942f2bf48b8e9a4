//! Introspection (RFC 7662) and revocation (RFC 7009).

use std::time::Duration;

use crate::support::{Options, TestAuth, post};

#[tokio::test]
async fn active_tokens_are_described_to_authenticated_clients_only() {
    let auth = TestAuth::start().await;
    let token = auth
        .client_token("loadgen", &[("scope", "orders:read")])
        .await;

    let anonymous = post(
        &auth.client(),
        "/oauth2/introspect",
        &[("token", &token)],
        None,
    )
    .await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.error(), "invalid_client");
    assert!(
        anonymous
            .header("www-authenticate")
            .is_some_and(|v| v.starts_with("Basic"))
    );

    let described = auth.introspect("gateway", &token).await;
    assert_eq!(described["active"], true);
    assert_eq!(described["client_id"], "loadgen");
    assert_eq!(described["sub"], "loadgen");
    assert_eq!(described["scope"], "orders:read");
    assert_eq!(described["token_type"], "Bearer");
    assert_eq!(described["aud"], serde_json::json!(["gateway"]));
    assert_eq!(described["iss"], auth.issuer);
    assert_eq!(described["roles"], serde_json::json!(["USER"]));
    assert!(
        described.get("username").is_none(),
        "a client's own token has no user"
    );
    assert_eq!(described["exp"].as_i64(), Some(auth.clock.now() + 300));
}

#[tokio::test]
async fn expired_revoked_and_forged_tokens_are_inactive() {
    let auth = TestAuth::start().await;
    let inactive = serde_json::json!({"active": false});

    let expiring = auth.client_token("loadgen", &[]).await;
    auth.advance(Duration::from_secs(299));
    assert_eq!(auth.introspect("gateway", &expiring).await["active"], true);
    auth.advance(Duration::from_secs(1));
    assert_eq!(auth.introspect("gateway", &expiring).await, inactive);

    let revoked = auth.client_token("loadgen", &[]).await;
    let reply = post(
        &auth.client(),
        "/oauth2/revoke",
        &[("token", &revoked)],
        Some("loadgen"),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(auth.introspect("gateway", &revoked).await, inactive);

    let valid = auth.client_token("loadgen", &[]).await;
    let mut forged = valid.clone();
    forged.truncate(valid.rfind('.').expect("signature") + 1);
    for bad in [forged.as_str(), "garbage", "", "a.b.c"] {
        if bad.is_empty() {
            let reply = post(
                &auth.client(),
                "/oauth2/introspect",
                &[("token", bad)],
                Some("gateway"),
            )
            .await;
            assert_eq!(reply.error(), "invalid_request");
        } else {
            assert_eq!(auth.introspect("gateway", bad).await, inactive, "{bad}");
        }
    }
}

#[tokio::test]
async fn clients_revoke_only_their_own_tokens() {
    let auth = TestAuth::start().await;
    let token = auth.client_token("loadgen", &[]).await;
    let reply = post(
        &auth.client(),
        "/oauth2/revoke",
        &[("token", &token)],
        Some("gateway"),
    )
    .await;
    assert_eq!(
        (reply.status.as_u16(), reply.error()),
        (400, "unauthorized_client".to_owned())
    );
    assert_eq!(auth.introspect("gateway", &token).await["active"], true);

    // Unknown tokens: nothing to do, still 200 (RFC 7009 §2.2).
    let reply = post(
        &auth.client(),
        "/oauth2/revoke",
        &[("token", "no-such-token")],
        Some("gateway"),
    )
    .await;
    assert_eq!(reply.status, 200);
    // Unauthenticated revocation is refused.
    let reply = post(&auth.client(), "/oauth2/revoke", &[("token", &token)], None).await;
    assert_eq!(reply.status, 401);
}

#[tokio::test]
async fn refresh_tokens_are_introspected_and_revoked_by_their_client() {
    let auth = TestAuth::start_with(Options::args(&["--enable-password-grant"])).await;
    let login = auth.login("meshctl", "alice", &[]).await;
    let refresh = login["refresh_token"].as_str().expect("refresh token");
    let access = login["access_token"].as_str().expect("access token");
    let hinted = [("token", refresh), ("token_type_hint", "refresh_token")];

    let described = post(
        &auth.client(),
        "/oauth2/introspect",
        &hinted,
        Some("meshctl"),
    )
    .await
    .json();
    assert_eq!(described["active"], true);
    assert_eq!(described["token_type"], "refresh_token");
    assert_eq!(described["username"], "alice");
    // Another client learns nothing about it.
    assert_eq!(auth.introspect("cli2", refresh).await["active"], false);

    let reply = post(&auth.client(), "/oauth2/revoke", &hinted, Some("meshctl")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(auth.introspect("meshctl", refresh).await["active"], false);
    // Revoking the login revokes its access token too.
    assert_eq!(auth.introspect("meshctl", access).await["active"], false);
    let params = [("grant_type", "refresh_token"), ("refresh_token", refresh)];
    let reply = auth.token("meshctl", &params).await;
    assert_eq!(reply.error(), "invalid_grant");
}
