//! Case 49 at auth: the revocation feed (`auth.v1.Revocations`) every
//! workload follows, over mutual TLS, and the admin call that revokes a
//! user's sessions.

use std::time::Duration;

use mesh::testing::{ClientCert, raw_channel};
use mesh_proto::auth::v1::{
    ListRevocationsRequest, ListRevocationsResponse, revocations_client::RevocationsClient,
};
use serde_json::Value;
use tonic::transport::Channel;

use crate::{
    exchange::exchange_as,
    https::Reply,
    refresh::refresh,
    support::{Options, TestAuth, decode, post},
};

const ENABLED: &[&str] = &["--enable-password-grant", "--access-token-ttl", "5m"];

/// The feed as workload `name` sees it.
fn feed(auth: &TestAuth, name: &str) -> RevocationsClient<Channel> {
    let cert = ClientCert::from(&auth.pki.files(name));
    RevocationsClient::new(raw_channel(&cert, &auth.ca(), auth.grpc))
}

async fn list(
    client: &mut RevocationsClient<Channel>,
    feed: &str,
    since_version: u64,
) -> ListRevocationsResponse {
    client
        .list_revocations(ListRevocationsRequest {
            feed: feed.to_owned(),
            since_version,
        })
        .await
        .expect("the feed answers")
        .into_inner()
}

fn claim(token: &str, name: &str) -> Value {
    decode(token).1[name].clone()
}

fn access(login: &Value) -> String {
    login["access_token"].as_str().expect("access").to_owned()
}

async fn revoke(auth: &TestAuth, client: &str, token: &str) {
    let reply = post(
        &auth.client(),
        "/oauth2/revoke",
        &[("token", token)],
        Some(client),
    )
    .await;
    assert_eq!(reply.status, 200);
}

async fn admin_revoke(auth: &TestAuth, bearer: Option<&str>, user: &str) -> Reply {
    let path = format!("/admin/users/{user}/revoke");
    auth.post_bearer(&path, bearer).await
}

#[tokio::test]
async fn case_49_the_feed_publishes_revoked_tokens_incrementally_to_workloads() {
    let auth = TestAuth::start_with(Options::args(ENABLED)).await;
    let mut orders = feed(&auth, "orders");
    let first = list(&mut orders, "", 0).await;
    assert!(first.snapshot, "a new follower gets the whole set");
    assert!(first.tokens.is_empty() && first.subjects.is_empty());

    let alice = access(&auth.login("meshctl", "alice", &[]).await);
    revoke(&auth, "meshctl", &alice).await;
    let next = list(&mut orders, &first.feed, first.version).await;
    assert!(!next.snapshot);
    assert_eq!(next.feed, first.feed);
    assert!(next.version > first.version);
    assert_eq!(next.tokens.len(), 1);
    assert_eq!(next.tokens[0].jti, claim(&alice, "jti"));
    // Published until any validator's largest skew past `exp`: a
    // validator accepts the token until then.
    assert_eq!(
        Some(next.tokens[0].expires_at),
        claim(&alice, "exp").as_i64().map(|exp| exp + 300)
    );

    let idle = list(&mut orders, &next.feed, next.version).await;
    assert!(idle.tokens.is_empty() && !idle.snapshot && !idle.more);
    assert_eq!(idle.version, next.version, "nothing new, same cursor");

    // A follower of another feed (auth's database was replaced) starts over.
    let other = list(&mut orders, "another-feed", next.version).await;
    assert!(other.snapshot);
    assert_eq!(other.tokens.len(), 1);

    // Still there just after `exp` (within any skew), gone after.
    auth.advance(Duration::from_secs(5 * 60 + 1));
    let just_expired = list(&mut orders, "", 0).await;
    assert_eq!(just_expired.tokens.len(), 1, "within the skew after exp");
    auth.advance(Duration::from_secs(5 * 60));
    let later = list(&mut orders, "", 0).await;
    assert!(later.tokens.is_empty(), "{later:?}");

    // Only mesh workloads may follow it.
    let outsider = RevocationsClient::new(raw_channel(&ClientCert::None, &auth.ca(), auth.grpc))
        .list_revocations(ListRevocationsRequest::default())
        .await;
    assert!(outsider.is_err());
}

#[tokio::test]
async fn case_49_tokens_exchanged_from_a_revoked_token_name_it_and_are_revoked_with_it() {
    let auth = TestAuth::start_with(Options::args(ENABLED)).await;
    let alice = access(&auth.login("meshctl", "alice", &[]).await);
    let exchanged = exchange_as(&auth, "gateway", &alice, "orders", "")
        .await
        .expect("exchanged")
        .access_token;
    assert_eq!(claim(&exchanged, "root_jti"), claim(&alice, "jti"));
    let hop2 = exchange_as(&auth, "orders", &exchanged, "payments", "")
        .await
        .expect("hop 2")
        .access_token;
    assert_eq!(
        claim(&hop2, "root_jti"),
        claim(&alice, "jti"),
        "the root, not the parent"
    );

    revoke(&auth, "meshctl", &alice).await;
    let again = exchange_as(&auth, "orders", &exchanged, "payments", "")
        .await
        .expect_err("derived from a revoked token");
    assert!(again.message().contains("invalid_grant"), "{again:?}");
    assert_eq!(auth.introspect("meshctl", &hop2).await["active"], false);
}

#[tokio::test]
async fn case_49_a_reused_refresh_token_revokes_the_subjects_session_in_the_feed() {
    let auth = TestAuth::start_with(Options::args(ENABLED)).await;
    let mut payments = feed(&auth, "payments");
    let start = list(&mut payments, "", 0).await;
    let login = auth.login("meshctl", "maria", &[]).await;
    let first = login["refresh_token"].as_str().expect("refresh").to_owned();
    let rotated = refresh(&auth, "meshctl", &first, None).await.json();
    // Exchanged before the reuse: a new jti, but the same session.
    let exchanged = exchange_as(&auth, "gateway", &access(&rotated), "orders", "")
        .await
        .expect("x")
        .access_token;

    auth.advance(Duration::from_secs(1));
    assert_eq!(
        refresh(&auth, "meshctl", &first, None).await.error(),
        "invalid_grant"
    );
    let update = list(&mut payments, &start.feed, start.version).await;
    let jtis: Vec<_> = update
        .tokens
        .iter()
        .map(|t| Value::from(t.jti.clone()))
        .collect();
    assert!(jtis.contains(&claim(&access(&login), "jti")));
    assert!(jtis.contains(&claim(&access(&rotated), "jti")));
    assert_eq!(update.subjects.len(), 1);
    let session = &update.subjects[0];
    assert_eq!(
        (session.subject.as_str(), session.client_id.as_str()),
        ("maria", "meshctl")
    );
    let iat = claim(&exchanged, "iat").as_i64().expect("iat");
    assert!(
        session.not_before > iat,
        "the exchanged token is refused too"
    );
    assert_eq!(
        auth.introspect("meshctl", &exchanged).await["active"],
        false
    );
}

#[tokio::test]
async fn case_49_an_admin_revokes_every_session_of_a_user() {
    let auth = TestAuth::start_with(Options::args(ENABLED)).await;
    let bob = auth.login("meshctl", "bob", &[]).await;
    let admin = access(
        &auth
            .login(
                "meshctl",
                "ada",
                &[("scope", "admin"), ("audience", "auth")],
            )
            .await,
    );
    // Nobody else may.
    assert_eq!(admin_revoke(&auth, None, "bob").await.status, 401);
    let alice = access(
        &auth
            .login("meshctl", "alice", &[("audience", "auth")])
            .await,
    );
    assert_eq!(admin_revoke(&auth, Some(&alice), "bob").await.status, 403);

    let reply = admin_revoke(&auth, Some(&admin), "bob").await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let body = reply.json();
    assert_eq!(body["subject"], "bob");
    assert_eq!(body["refresh_families"], 1);
    assert_eq!(
        auth.introspect("meshctl", &access(&bob)).await["active"],
        false
    );
    let refresh_token = bob["refresh_token"].as_str().expect("refresh");
    assert_eq!(
        refresh(&auth, "meshctl", refresh_token, None).await.error(),
        "invalid_grant"
    );
    assert_eq!(
        auth.introspect("meshctl", &alice).await["active"],
        true,
        "only bob"
    );

    let mut accounts = feed(&auth, "accounts");
    let set = list(&mut accounts, "", 0).await;
    assert_eq!(set.subjects.len(), 1);
    assert_eq!(set.subjects[0].subject, "bob");
    assert_eq!(set.subjects[0].client_id, "", "every client");
    assert_eq!(
        Some(set.subjects[0].not_before),
        body["not_before"].as_i64()
    );

    // Logging in again afterwards starts a session that works.
    auth.advance(Duration::from_secs(1));
    let again = access(&auth.login("meshctl", "bob", &[]).await);
    assert_eq!(auth.introspect("meshctl", &again).await["active"], true);
}
