//! Rotating a client secret without downtime (`/admin/clients/{id}/secret`):
//! two valid secrets during the grace period, each use counted by
//! generation, the old one refused after the grace or `finish`, the state
//! kept across a restart, and only ADMIN tokens may do it.

use std::time::Duration;

use crate::{
    https::Reply,
    support::{Options, TestAuth, basic, secret},
};

const ENABLED: &[&str] = &["--enable-password-grant"];

/// A `client_credentials` request of `id` with `client_secret`.
async fn as_client(auth: &TestAuth, id: &str, client_secret: &str) -> Reply {
    auth.client()
        .post_form(
            "/oauth2/token",
            "grant_type=client_credentials",
            &[("authorization", basic(id, client_secret))],
        )
        .await
}

/// POSTs `body` to `path` with `token` as bearer.
async fn admin_post(auth: &TestAuth, path: &str, token: &str, body: &str) -> Reply {
    auth.client()
        .post_form(path, body, &[("authorization", format!("Bearer {token}"))])
        .await
}

async fn uses(auth: &TestAuth, generation: &str) -> f64 {
    let labels = format!("client=\"loadgen\",generation=\"{generation}\"");
    auth.metric("mesh_client_secret_used_total", &labels).await
}

#[tokio::test]
async fn a_rotation_keeps_both_secrets_valid_until_the_grace_ends() {
    let auth = TestAuth::start_with(Options::args(ENABLED)).await;
    let old = secret("loadgen");
    // Exported from the start, at zero.
    let series = r#"client="loadgen",generation="previous"} 0"#;
    assert!(auth.metrics().await.contains(series));
    // Verified once, so it sits in the verified-secret cache.
    assert_eq!(as_client(&auth, "loadgen", &old).await.status, 200);

    let token = auth.admin_token().await;
    let reply = admin_post(
        &auth,
        "/admin/clients/loadgen/secret",
        &token,
        "grace_seconds=3600",
    )
    .await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let body = reply.json();
    let new = body["client_secret"]
        .as_str()
        .expect("new secret")
        .to_owned();
    assert_ne!(new, old);
    assert!(new.len() >= 32);
    let until = body["previous_valid_until"].as_i64().expect("until");

    // Both work during the grace period, each counted by generation (the
    // old one no longer from the cache as "current").
    assert_eq!(as_client(&auth, "loadgen", &old).await.status, 200);
    assert_eq!(as_client(&auth, "loadgen", &new).await.status, 200);
    assert_eq!(uses(&auth, "previous").await, 1.0);
    assert_eq!(uses(&auth, "current").await, 2.0);
    let expiry = auth
        .metric(
            "mesh_client_secret_previous_expiry_timestamp_seconds",
            "client=\"loadgen\"",
        )
        .await;
    assert_eq!(expiry, until as f64);

    // After the grace period, only the new one.
    auth.advance(Duration::from_secs(3601));
    let refused = as_client(&auth, "loadgen", &old).await;
    assert_eq!(
        (refused.status.as_u16(), refused.error()),
        (401, "invalid_client".to_owned())
    );
    assert_eq!(as_client(&auth, "loadgen", &new).await.status, 200);

    // The rotation survives a restart; the old secret stays refused.
    let auth = auth.restart(Options::args(ENABLED)).await;
    assert_eq!(as_client(&auth, "loadgen", &new).await.status, 200);
    assert_eq!(as_client(&auth, "loadgen", &old).await.status, 401);
}

#[tokio::test]
async fn finish_retires_the_previous_secret_at_once() {
    let auth = TestAuth::start_with(Options::args(ENABLED)).await;
    let old = secret("loadgen");
    let token = auth.admin_token().await;
    let reply = admin_post(&auth, "/admin/clients/loadgen/secret", &token, "").await;
    let new = reply.json()["client_secret"]
        .as_str()
        .expect("new")
        .to_owned();
    assert_eq!(as_client(&auth, "loadgen", &old).await.status, 200);

    let finish = admin_post(&auth, "/admin/clients/loadgen/secret/finish", &token, "").await;
    assert_eq!(finish.status, 200);
    assert_eq!(finish.json()["previous_retired"], true);
    assert_eq!(
        as_client(&auth, "loadgen", &old).await.error(),
        "invalid_client"
    );
    assert_eq!(as_client(&auth, "loadgen", &new).await.status, 200);
    let again = admin_post(&auth, "/admin/clients/loadgen/secret/finish", &token, "").await;
    assert_eq!(again.json()["previous_retired"], false);
    assert_eq!(
        auth.metric(
            "mesh_client_secret_previous_expiry_timestamp_seconds",
            "client=\"loadgen\"",
        )
        .await,
        0.0
    );
}

#[tokio::test]
async fn only_admins_rotate_and_bad_requests_change_nothing() {
    let auth = TestAuth::start_with(Options::args(ENABLED)).await;
    let path = "/admin/clients/loadgen/secret";
    let none = auth.post_bearer(path, None).await;
    assert_eq!(none.status, 401);
    let maria = auth
        .login("meshctl", "maria", &[("audience", "auth")])
        .await;
    let staff = maria["access_token"].as_str().expect("token");
    assert_eq!(admin_post(&auth, path, staff, "").await.status, 403);

    let token = auth.admin_token().await;
    for body in [
        "grace_seconds=-1",
        "grace_seconds=99999999",
        "grace_seconds=1d",
    ] {
        let reply = admin_post(&auth, path, &token, body).await;
        assert_eq!(reply.error(), "invalid_request", "{body}");
    }
    let unknown = admin_post(&auth, "/admin/clients/nobody/secret", &token, "").await;
    assert_eq!(unknown.error(), "invalid_request");
    // Nothing changed: the config secret is the only one.
    assert_eq!(
        as_client(&auth, "loadgen", &secret("loadgen")).await.status,
        200
    );
    assert_eq!(uses(&auth, "previous").await, 0.0);
}

#[tokio::test]
async fn a_second_rotation_waits_for_the_first_to_finish() {
    let auth = TestAuth::start_with(Options::args(ENABLED)).await;
    let token = auth.admin_token().await;
    let path = "/admin/clients/loadgen/secret";
    assert_eq!(admin_post(&auth, path, &token, "").await.status, 200);
    // A second one now would end the first one's grace at once.
    let again = admin_post(&auth, path, &token, "").await;
    assert_eq!(again.error(), "invalid_request");
    assert_eq!(uses(&auth, "previous").await, 0.0);
    let finish = admin_post(&auth, &format!("{path}/finish"), &token, "").await;
    assert_eq!(finish.status, 200);
    assert_eq!(admin_post(&auth, path, &token, "").await.status, 200);
}

/// An operator who answers a leak by putting a new secret in the config
/// gets that secret, whatever was rotated before.
#[tokio::test]
async fn a_new_secret_in_the_config_wins_over_a_rotation() {
    let auth = TestAuth::start_with(Options::args(ENABLED)).await;
    let token = auth.admin_token().await;
    let reply = admin_post(&auth, "/admin/clients/loadgen/secret", &token, "").await;
    let rotated = reply.json()["client_secret"]
        .as_str()
        .expect("new")
        .to_owned();

    let mut config = crate::support::test_config();
    let changed = "changed-in-the-config";
    let hash = auth::PasswordHash::create(&auth::Secret::new(changed), crate::support::TEST_HASH)
        .expect("hash");
    for client in config["clients"].as_array_mut().expect("clients") {
        if client["id"] == "loadgen" {
            client["secret_hash"] = hash.as_str().into();
        }
    }
    let path = auth.data.path().join("changed.json");
    std::fs::write(&path, config.to_string()).expect("write config");
    let mut options = Options::args(ENABLED);
    options.config = Some(path);
    let auth = auth.restart(options).await;
    assert_eq!(as_client(&auth, "loadgen", changed).await.status, 200);
    assert_eq!(as_client(&auth, "loadgen", &rotated).await.status, 401);
    assert_eq!(
        as_client(&auth, "loadgen", &secret("loadgen")).await.status,
        401
    );
}
