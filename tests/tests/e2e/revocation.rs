//! Case 49 end to end: a revoked token, a reused refresh family and a
//! revoked user stop working at the gateway and at `accounts` (called
//! directly over mutual TLS as the gateway) within 5 s, although both had
//! the token in their verified-token caches and the gateway had an
//! exchanged token for it.

use std::time::Duration;

use mesh::testing::{ClientCert, HttpReply, http_get, https_request, metric, raw_channel};
use mesh_proto::accounts::v1::{ListAccountsRequest, accounts_client::AccountsClient};
use serde_json::Value;
use tokio::time::Instant;
use tonic::{Code, transport::Channel};

use crate::stack::Stack;

/// docs/architecture.md: every workload honours a revocation within this.
const PROMISE: Duration = Duration::from_secs(5);

/// A login whose token is for the gateway and for `accounts` itself.
async fn login(s: &Stack, user: &str) -> Value {
    let audiences = [("audience", "gateway"), ("audience", "accounts")];
    s.login(user, &audiences).await
}

fn access(login: &Value) -> String {
    login["access_token"].as_str().expect("access").to_owned()
}

/// `accounts` over mutual TLS, as the gateway workload.
fn accounts(s: &Stack) -> AccountsClient<Channel> {
    let gateway = ClientCert::from(&s.pki.files("gateway"));
    AccountsClient::new(raw_channel(
        &gateway,
        &s.pki.dir().ca_cert(),
        s.accounts.grpc_addr,
    ))
}

/// The token's outcome at both places: (REST status at the gateway,
/// gRPC code at `accounts`).
async fn probe(s: &Stack, client: &mut AccountsClient<Channel>, token: &str) -> (u16, Code) {
    let rest = s.call("GET", "/v1/accounts", token, "").await.status;
    let mut request = tonic::Request::new(ListAccountsRequest::default());
    let bearer = format!("Bearer {token}").parse().expect("header");
    request.metadata_mut().insert("authorization", bearer);
    let grpc = match client.list_accounts(request).await {
        Ok(_) => Code::Ok,
        Err(status) => status.code(),
    };
    (rest, grpc)
}

/// Uses `token` twice at both places, so every cache holds it.
async fn warm(s: &Stack, client: &mut AccountsClient<Channel>, token: &str) {
    for _ in 0..2 {
        assert_eq!(probe(s, client, token).await, (200, Code::Ok));
    }
}

/// Polls until `token` is refused at both places; returns how long that
/// took from `since`, or fails once the promise is broken. The gateway
/// counts as refusing when its own check did (its `revoked` counter went
/// up), not when it passes on a refusal of `accounts` (which refuses the
/// exchanged token as soon as it knows its root is revoked).
async fn refused_within_promise(
    s: &Stack,
    client: &mut AccountsClient<Channel>,
    token: &str,
    since: Instant,
) -> Duration {
    let (mut at_gateway, mut at_accounts) = (None, None);
    let counted = revoked_count(s.gateway.admin_addr).await;
    loop {
        let (rest, grpc) = probe(s, client, token).await;
        if rest == 401 && revoked_count(s.gateway.admin_addr).await > counted {
            at_gateway.get_or_insert_with(|| since.elapsed());
        }
        if grpc == Code::Unauthenticated {
            at_accounts.get_or_insert_with(|| since.elapsed());
        }
        if let (Some(gateway), Some(accounts)) = (at_gateway, at_accounts) {
            eprintln!("refused at the gateway after {gateway:?}, at accounts after {accounts:?}");
            return gateway.max(accounts);
        }
        assert!(
            since.elapsed() < PROMISE,
            "still accepted after {PROMISE:?}: gateway {rest}, accounts {grpc:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `mesh_auth_failures_total{reason="revoked"}` of a workload.
async fn revoked_count(admin: std::net::SocketAddr) -> f64 {
    let text = http_get(admin, "/metrics").await.1;
    metric(&text, "mesh_auth_failures_total", r#"reason="revoked""#)
}

#[tokio::test]
async fn case_49_revoked_token_refused_everywhere_within_5s() {
    let s = Stack::start(&[]).await;
    let mut client = accounts(&s);
    let alice = access(&login(&s, "alice").await);
    warm(&s, &mut client, &alice).await;

    let revoked = s.oauth("/oauth2/revoke", &[("token", &alice)]).await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    let took = refused_within_promise(&s, &mut client, &alice, Instant::now()).await;
    assert!(took < PROMISE);
    assert!(revoked_count(s.accounts.admin_addr).await >= 1.0);

    // Nobody else is affected.
    let bob = access(&login(&s, "bob").await);
    assert_eq!(probe(&s, &mut client, &bob).await, (200, Code::Ok));
}

#[tokio::test]
async fn case_49_reused_refresh_family_refused_everywhere_within_5s() {
    let s = Stack::start(&[]).await;
    let mut client = accounts(&s);
    let first = login(&s, "maria").await;
    let stolen = first["refresh_token"].as_str().expect("refresh").to_owned();
    let grant = [("grant_type", "refresh_token"), ("refresh_token", &stolen)];
    let rotated = s.oauth("/oauth2/token", &grant).await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let current = access(&rotated.json());
    warm(&s, &mut client, &current).await;

    // The rotated token comes back: someone else holds the family.
    let reuse = s.oauth("/oauth2/token", &grant).await;
    assert_eq!(reuse.status, 400, "{}", reuse.body);
    refused_within_promise(&s, &mut client, &current, Instant::now()).await;
}

#[tokio::test]
async fn case_49_revoked_user_refused_everywhere_within_5s() {
    let s = Stack::start(&[]).await;
    let mut client = accounts(&s);
    let bob = access(&login(&s, "bob").await);
    warm(&s, &mut client, &bob).await;

    let admin = s
        .login("ada", &[("scope", "admin"), ("audience", "auth")])
        .await;
    let head = format!(
        "POST /admin/users/bob/revoke HTTP/1.1\r\nAuthorization: Bearer {}\r\n",
        access(&admin)
    );
    let auth = s.auth.https_addr.expect("auth HTTPS");
    let reply: HttpReply = https_request(auth, &s.pki.dir().ca_cert(), &head, b"").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    refused_within_promise(&s, &mut client, &bob, Instant::now()).await;
}
