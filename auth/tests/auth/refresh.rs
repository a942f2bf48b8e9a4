//! Refresh tokens: opaque, stored hashed, rotated on every use, bound to
//! their client and to the login's lifetime. Reuse detection (case 21) is
//! in `security.rs`.

use std::time::Duration;

use sha2::Digest;

use crate::support::{Options, TestAuth, decode};

const ENABLED: &[&str] = &["--enable-password-grant"];

pub(crate) async fn refresh(
    auth: &TestAuth,
    client: &str,
    token: &str,
    scope: Option<&str>,
) -> crate::https::Reply {
    let mut params = vec![("grant_type", "refresh_token"), ("refresh_token", token)];
    if let Some(scope) = scope {
        params.push(("scope", scope));
    }
    auth.token(client, &params).await
}

#[tokio::test]
async fn refresh_narrows_scope_and_keeps_the_original_grant() {
    let auth = TestAuth::start_with(Options::args(ENABLED)).await;
    let login = auth
        .login("meshctl", "alice", &[("scope", "orders:read orders:write")])
        .await;
    let token = login["refresh_token"].as_str().expect("refresh token");

    let wider = refresh(&auth, "meshctl", token, Some("orders:read accounts:read")).await;
    assert_eq!(wider.error(), "invalid_scope");

    let narrowed = refresh(&auth, "meshctl", token, Some("orders:read"))
        .await
        .json();
    let (_, claims) = decode(narrowed["access_token"].as_str().expect("access"));
    assert_eq!(claims["scope"], "orders:read");
    assert_eq!(narrowed["scope"], "orders:read");
    // RFC 6749 §6: the new refresh token has the original scope.
    let next = narrowed["refresh_token"].as_str().expect("rotated");
    let full = refresh(&auth, "meshctl", next, None).await.json();
    assert_eq!(full["scope"], "orders:read orders:write");
}

#[tokio::test]
async fn refresh_tokens_are_bound_to_their_client() {
    let auth = TestAuth::start_with(Options::args(ENABLED)).await;
    let login = auth.login("meshctl", "alice", &[]).await;
    let token = login["refresh_token"].as_str().expect("refresh token");
    assert_eq!(
        refresh(&auth, "cli2", token, None).await.error(),
        "invalid_grant"
    );
    // Not a reuse: the rightful client can still refresh.
    assert_eq!(refresh(&auth, "meshctl", token, None).await.status, 200);
    // A client that may not refresh at all.
    assert_eq!(
        refresh(&auth, "gateway", token, None).await.error(),
        "unauthorized_client"
    );
}

#[tokio::test]
async fn a_login_ends_when_its_family_expires() {
    let auth = TestAuth::start_with(Options::args(&[
        "--enable-password-grant",
        "--refresh-token-ttl",
        "1h",
    ]))
    .await;
    let login = auth.login("meshctl", "bob", &[]).await;
    let mut token = login["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_owned();
    // Rotation does not extend the family.
    for _ in 0..3 {
        auth.advance(Duration::from_secs(15 * 60));
        let reply = refresh(&auth, "meshctl", &token, None).await;
        assert_eq!(reply.status, 200);
        token = reply.json()["refresh_token"]
            .as_str()
            .expect("rotated")
            .to_owned();
    }
    auth.advance(Duration::from_secs(15 * 60));
    assert_eq!(
        refresh(&auth, "meshctl", &token, None).await.error(),
        "invalid_grant"
    );
}

#[tokio::test]
async fn refresh_tokens_are_opaque_and_stored_only_as_hashes() {
    let auth = TestAuth::start_with(Options::args(ENABLED)).await;
    let login = auth.login("meshctl", "alice", &[]).await;
    let token = login["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_owned();
    assert!(!token.contains('.'), "a refresh token is not a JWT");
    let (data, _keep) = (auth.data_dir(), auth.data.clone());
    auth.stop().await;
    let mut stored = std::fs::read(data.join("auth.db")).expect("the database");
    stored.extend(std::fs::read(data.join("auth.db-wal")).unwrap_or_default());
    assert!(stored.len() > 4096);
    let text = String::from_utf8_lossy(&stored);
    assert!(
        !text.contains(&token),
        "the refresh token is stored in clear"
    );
    // What is stored is its SHA-256.
    let hash: [u8; 32] = sha2::Sha256::digest(token.as_bytes()).into();
    assert!(
        stored.windows(32).any(|w| w == hash),
        "the refresh token hash is stored"
    );
}
