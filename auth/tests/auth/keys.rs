//! Signing keys: persisted with owner-only modes, rotated with an overlap
//! window (published ahead, retired after its tokens expire), on request
//! by an admin or on a schedule.

use std::time::Duration;

use crate::{
    https::Reply,
    support::{Options, TestAuth, decode, mode},
};

const FLAGS: &[&str] = &[
    "--enable-password-grant",
    "--key-publish-ahead",
    "10m",
    "--jwt-skew",
    "30s",
];

async fn rotate(auth: &TestAuth, bearer: Option<&str>) -> Reply {
    auth.post_bearer("/admin/keys/rotate", bearer).await
}

async fn signing_kid(auth: &TestAuth) -> String {
    let token = auth.client_token("loadgen", &[]).await;
    decode(&token).0["kid"].as_str().expect("kid").to_owned()
}

#[tokio::test]
async fn a_rotated_key_is_published_ahead_and_retired_after_its_tokens_expire() {
    let auth = TestAuth::start_with(Options::args(FLAGS)).await;
    let old = auth.kids().await;
    assert_eq!(old.len(), 1);
    let old = old[0].clone();
    let admin = auth.admin_token().await;

    let reply = rotate(&auth, Some(&admin)).await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let outcome = reply.json();
    let new = outcome["kid"].as_str().expect("kid").to_owned();
    assert_eq!(outcome["already_pending"], false);
    assert_eq!(
        outcome["activates_at"].as_i64(),
        Some(auth.clock.now() + 600)
    );
    // Published at once, newest first, but not signing yet.
    assert_eq!(auth.kids().await, [new.clone(), old.clone()]);
    assert_eq!(signing_kid(&auth).await, old);
    // Asking again while one is pending makes no second key.
    let again = rotate(&auth, Some(&admin)).await.json();
    assert_eq!(
        (again["kid"].as_str(), again["already_pending"].as_bool()),
        (Some(new.as_str()), Some(true))
    );

    auth.advance(Duration::from_secs(599));
    let last_old_token = auth.client_token("loadgen", &[]).await;
    assert_eq!(decode(&last_old_token).0["kid"], old.as_str());
    auth.advance(Duration::from_secs(1));
    assert_eq!(signing_kid(&auth).await, new);

    // The old key stays published while tokens it signed are alive (+ skew).
    auth.advance(Duration::from_secs(298));
    assert_eq!(
        auth.introspect("gateway", &last_old_token).await["active"],
        true
    );
    assert_eq!(auth.kids().await, [new.clone(), old.clone()]);
    auth.advance(Duration::from_secs(31));
    assert_eq!(
        auth.kids().await,
        [new.clone(), old.clone()],
        "one second of skew left"
    );
    auth.advance(Duration::from_secs(1));
    assert_eq!(auth.kids().await, std::slice::from_ref(&new));
    assert_eq!(
        auth.introspect("gateway", &last_old_token).await["active"],
        false
    );
}

#[tokio::test]
async fn only_an_admin_token_for_auth_may_rotate() {
    let auth = TestAuth::start_with(Options::args(FLAGS)).await;
    let missing = rotate(&auth, None).await;
    assert_eq!(
        (missing.status.as_u16(), missing.error()),
        (401, "invalid_token".to_owned())
    );
    assert!(
        missing
            .header("www-authenticate")
            .is_some_and(|v| v.contains(r#"error="invalid_token""#))
    );

    let machine = auth.client_token("loadgen", &[]).await;
    assert_eq!(
        rotate(&auth, Some(&machine)).await.status,
        401,
        "wrong audience"
    );

    let login = auth
        .login("meshctl", "maria", &[("audience", "auth")])
        .await;
    let manager = login["access_token"].as_str().expect("token");
    let reply = rotate(&auth, Some(manager)).await;
    assert_eq!(
        (reply.status.as_u16(), reply.error()),
        (403, "insufficient_scope".to_owned())
    );

    let garbage = rotate(&auth, Some("x.y.z")).await;
    assert_eq!(garbage.status, 401);
    assert_eq!(auth.kids().await.len(), 1, "nothing rotated");
}

#[tokio::test]
async fn keys_are_scheduled_for_rotation_by_age() {
    let flags = [
        "--key-rotation-interval",
        "1h",
        "--key-publish-ahead",
        "10m",
    ];
    let mut auth = TestAuth::start_with(Options::args(&flags)).await;
    auth.key_changes.borrow_and_update();
    assert_eq!(auth.kids().await.len(), 1);
    // Due 1h - 10m after the key started signing, so the next one signs at 1h.
    auth.advance(Duration::from_secs(49 * 60));
    assert_eq!(auth.kids().await.len(), 1);
    auth.advance(Duration::from_secs(60));
    tokio::time::timeout(Duration::from_secs(10), auth.key_changes.changed())
        .await
        .expect("the maintenance task rotates when due")
        .expect("key set alive");
    let kids = auth.kids().await;
    assert_eq!(kids.len(), 2);
    auth.advance(Duration::from_secs(10 * 60));
    assert_eq!(signing_kid(&auth).await, kids[0]);
}

#[tokio::test]
async fn keys_persist_with_owner_only_modes_and_no_private_key_in_the_database() {
    let auth = TestAuth::start().await;
    let kids = auth.kids().await;
    let token = auth.client_token("loadgen", &[]).await;
    let data = auth.data_dir();
    let key_file = data.join("keys").join(format!("{}.pk8", kids[0]));
    assert_eq!(mode(&key_file), 0o600);
    assert_eq!(mode(&data.join("keys")), 0o700);
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("auth.db")), 0o600);

    let auth = auth.restart(Options::default()).await;
    assert_eq!(auth.kids().await, kids, "the key survives a restart");
    assert_eq!(auth.introspect("gateway", &token).await["active"], true);

    let private = std::fs::read(&key_file).expect("key file");
    let _keep = auth.data.clone();
    auth.stop().await;
    let mut database = std::fs::read(data.join("auth.db")).expect("database");
    database.extend(std::fs::read(data.join("auth.db-wal")).unwrap_or_default());
    // The EC private scalar is the first 32-byte OCTET STRING of the PKCS#8
    // document; it appears nowhere in the database.
    let at = private
        .windows(2)
        .position(|w| w == [0x04, 0x20])
        .expect("EC private key in the PKCS#8 document")
        + 2;
    let scalar = &private[at..at + 32];
    assert!(!database.windows(32).any(|w| w == scalar));
}

#[tokio::test]
async fn changing_the_algorithm_schedules_a_key_published_ahead() {
    let auth = TestAuth::start().await;
    let old = auth.kids().await;
    let auth = auth
        .restart(Options::args(&["--signing-alg", "EdDSA"]))
        .await;
    let jwks = auth.jwks().await;
    let algs: Vec<&str> = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|k| k["alg"].as_str())
        .collect();
    assert_eq!(algs, ["EdDSA", "ES256"]);
    assert_eq!(
        signing_kid(&auth).await,
        old[0],
        "the ES256 key signs until the new one is published long enough"
    );
    auth.advance(Duration::from_secs(600));
    let token = auth.client_token("loadgen", &[]).await;
    assert_eq!(decode(&token).0["alg"], "EdDSA");
    let discovery = auth
        .client()
        .get("/.well-known/openid-configuration")
        .await
        .json();
    assert_eq!(
        discovery["access_token_signing_alg_values_supported"],
        serde_json::json!(["ES256", "EdDSA"])
    );
}

/// Case 51: a signing key file that group or others may read is refused at
/// start, naming the file and the fix.
#[tokio::test]
async fn case_51_a_signing_key_open_to_others_is_refused() {
    use std::os::unix::fs::PermissionsExt;

    let auth = TestAuth::start().await;
    let kids = auth.kids().await;
    let key_file = auth
        .data_dir()
        .join("keys")
        .join(format!("{}.pk8", kids[0]));
    // Loaded at start, so the running server does not notice.
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let restarted = auth.try_restart(Options::default()).await;
    let Err(error) = restarted else {
        panic!("auth started with a key file open to others");
    };
    let message = error.to_string();
    assert!(
        message.contains(&format!("chmod 600 {}", key_file.display())),
        "{message}"
    );
}
