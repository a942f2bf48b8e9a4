//! Cases 45 and 46: guessing is slowed down per principal and address, so
//! an attacker cannot lock the owner out, and every failed login looks the
//! same whether the name exists or not, in every throttle state.
//!
//! Client addresses come from `x-forwarded-for`, which auth believes only
//! from a trusted proxy workload (the gateway, by its certificate): the
//! tests play the gateway forwarding requests from several addresses.

use hyper::HeaderMap;

use crate::{
    https::{Https, Reply},
    support::{Options, TestAuth, basic, password, secret},
};

const ENABLED: &[&str] = &["--enable-password-grant"];

/// A password login of `user` with `pw` as client `meshctl`, from `from`
/// as told by the `proxy` connection (or the TCP peer, for `None`).
async fn login(https: &Https, user: &str, pw: &str, from: Option<&str>) -> Reply {
    let params = [
        ("grant_type", "password"),
        ("username", user),
        ("password", pw),
    ];
    let body = serde_urlencoded::to_string(params).expect("form");
    let mut headers = vec![("authorization", basic("meshctl", &secret("meshctl")))];
    if let Some(ip) = from {
        headers.push(("x-forwarded-for", ip.to_owned()));
    }
    https.post_form("/oauth2/token", &body, &headers).await
}

/// A `client_credentials` request as client `id` with `client_secret`.
async fn client_login(https: &Https, id: &str, client_secret: &str, from: Option<&str>) -> Reply {
    let body = "grant_type=client_credentials";
    let mut headers = vec![("authorization", basic(id, client_secret))];
    if let Some(ip) = from {
        headers.push(("x-forwarded-for", ip.to_owned()));
    }
    https.post_form("/oauth2/token", body, &headers).await
}

/// Everything a client sees of an answer but the date, and whether (not
/// exactly how long) it is told to wait: two refusals a second apart may
/// round their waits differently.
fn seen(reply: &Reply) -> (u16, HeaderMap, String) {
    let mut headers = reply.headers.clone();
    headers.remove("date");
    if headers.contains_key("retry-after") {
        headers.insert(
            "retry-after",
            hyper::header::HeaderValue::from_static("given"),
        );
    }
    let body = String::from_utf8_lossy(&reply.body).into_owned();
    (reply.status.as_u16(), headers, body)
}

#[tokio::test]
async fn case_45_an_attacker_elsewhere_cannot_lock_out_the_owner() {
    let auth = TestAuth::start_with(Options::args(ENABLED)).await;
    let gateway = auth.workload("gateway");
    let attacker = Some("203.0.113.9");
    let home = Some("198.51.100.7");
    for _ in 0..6 {
        let reply = login(&gateway, "bob", "guess", attacker).await;
        assert_eq!(reply.error(), "invalid_grant");
    }
    // The attacker's address is slowed down, even with the right password...
    let right = password("bob");
    let blocked = login(&gateway, "bob", &right, attacker).await;
    assert_eq!(
        (blocked.status.as_u16(), blocked.error()),
        (400, "invalid_grant".to_owned())
    );
    assert!(blocked.header("retry-after").is_some());
    // ...bob from home is not.
    assert_eq!(login(&gateway, "bob", &right, home).await.status, 200);

    // The same for a client secret.
    for _ in 0..6 {
        let reply = client_login(&gateway, "loadgen", "guess", attacker).await;
        assert_eq!(reply.status, 401);
    }
    let real = secret("loadgen");
    assert_eq!(
        client_login(&gateway, "loadgen", &real, attacker)
            .await
            .status,
        401
    );
    assert_eq!(
        client_login(&gateway, "loadgen", &real, home).await.status,
        200
    );
    let failures = |reason: &str| {
        let labels = format!("reason=\"{reason}\"");
        let auth = &auth;
        async move { auth.metric("mesh_auth_failures_total", &labels).await }
    };
    // Guesses five and six, and the right secret, were refused unchecked.
    assert_eq!(failures("user_backoff").await, 3.0);
    assert_eq!(failures("client_backoff").await, 3.0);
}

#[tokio::test]
async fn case_45_only_a_trusted_proxy_names_the_client_address() {
    let auth = TestAuth::start_with(Options::args(ENABLED)).await;
    // An outsider claiming a new address with every guess is still one
    // address (its TCP peer's): the fifth guess is refused unchecked.
    let outsider = auth.client();
    for n in 0..4 {
        let claimed = format!("192.0.2.{n}");
        let reply = login(&outsider, "alice", "guess", Some(&claimed)).await;
        assert_eq!(reply.error(), "invalid_grant");
    }
    let reply = login(&outsider, "alice", &password("alice"), Some("192.0.2.99")).await;
    assert_eq!(
        reply.status, 400,
        "x-forwarded-for from an outsider is ignored"
    );
    // So is one from a mesh workload that is not a trusted proxy.
    let orders = auth.workload("orders");
    let reply = login(&orders, "alice", &password("alice"), Some("192.0.2.100")).await;
    assert_eq!(reply.status, 400);
}

#[tokio::test]
async fn case_45_a_distributed_guesser_is_slowed_down_but_the_owner_gets_in() {
    let auth = TestAuth::start_with(Options::args(ENABLED)).await;
    let gateway = auth.workload("gateway");
    // One guess from each of 30 addresses: past the per-user allowance.
    for n in 0..30 {
        let from = format!("203.0.113.{n}");
        let reply = login(&gateway, "maria", "guess", Some(&from)).await;
        assert_eq!(reply.error(), "invalid_grant", "guess {n}");
    }
    // A second guess from any of those addresses waits...
    let again = login(&gateway, "maria", &password("maria"), Some("203.0.113.3")).await;
    assert_eq!(again.status, 400);
    assert!(again.header("retry-after").is_some());
    assert_eq!(
        auth.metric(
            "mesh_auth_failures_total",
            r#"reason="user_backoff_global""#
        )
        .await,
        1.0
    );
    // ...while maria, from an address that never failed, logs in.
    let home = login(&gateway, "maria", &password("maria"), Some("198.51.100.1")).await;
    assert_eq!(home.status, 200);
}

#[tokio::test]
async fn case_46_failed_user_logins_look_the_same_for_unknown_names() {
    let auth = TestAuth::start_with(Options::args(ENABLED)).await;
    let gateway = auth.workload("gateway");
    // Each state in turn: free failures, then refused unchecked.
    for attempt in 0..6 {
        let known = login(&gateway, "bob", "guess", Some("203.0.113.1")).await;
        let unknown = login(&gateway, "bobby", "guess", Some("203.0.113.1")).await;
        assert_eq!(seen(&known), seen(&unknown), "attempt {attempt}");
        assert_eq!(known.error(), "invalid_grant");
    }
    // Throttled now: the right password of the known user reads the same
    // as any password of the unknown one.
    let known = login(&gateway, "bob", &password("bob"), Some("203.0.113.1")).await;
    let unknown = login(&gateway, "bobby", "anything", Some("203.0.113.1")).await;
    assert_eq!(seen(&known), seen(&unknown));
    assert!(known.header("retry-after").is_some());
}

#[tokio::test]
async fn case_46_failed_client_logins_look_the_same_for_unknown_ids() {
    let auth = TestAuth::start().await;
    let gateway = auth.workload("gateway");
    for attempt in 0..6 {
        let known = client_login(&gateway, "loadgen", "guess", Some("203.0.113.1")).await;
        let unknown = client_login(&gateway, "loadgen2", "guess", Some("203.0.113.1")).await;
        assert_eq!(seen(&known), seen(&unknown), "attempt {attempt}");
        assert_eq!(known.status, 401);
    }
    let known = client_login(&gateway, "loadgen", &secret("loadgen"), Some("203.0.113.1")).await;
    let unknown = client_login(&gateway, "loadgen2", "x", Some("203.0.113.1")).await;
    assert_eq!(seen(&known), seen(&unknown));
    assert!(known.header("retry-after").is_some());
}
