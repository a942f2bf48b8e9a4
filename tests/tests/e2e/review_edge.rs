//! The public door, attacked from outside through the gateway: cases 44
//! (no token exchange without OAuth client authentication), 45 (an
//! attacker cannot lock the owner out) and 46 (failed logins look the same
//! for unknown names). Two client machines are two loopback addresses.

use std::net::IpAddr;

use base64::{Engine, engine::general_purpose::STANDARD};
use mesh::testing::HttpReply;

use crate::stack::Stack;

const EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";

/// A first wait long enough that no attempt of a test outlives it, so what
/// is refused does not depend on how fast the machine is.
fn slow_backoff() -> (&'static str, String) {
    ("AUTH_LOGIN_BACKOFF", "10m".to_owned())
}

/// A second client machine.
const ELSEWHERE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));

/// POSTs `form` to the gateway's token endpoint from `from`, with client
/// authentication `client` (id, secret) if given.
async fn token_request(
    stack: &Stack,
    from: Option<IpAddr>,
    client: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> HttpReply {
    let mut head = "POST /oauth2/token HTTP/1.1\r\n\
                    Content-Type: application/x-www-form-urlencoded\r\n"
        .to_owned();
    if let Some((id, secret)) = client {
        let basic = STANDARD.encode(format!("{id}:{secret}"));
        head.push_str(&format!("Authorization: Basic {basic}\r\n"));
    }
    let body = serde_urlencoded::to_string(form).expect("form");
    stack.rest_from(from, &head, &body).await
}

/// The demo secret of client `id`.
fn client_secret(stack: &Stack, id: &str) -> String {
    stack.credentials()["clients"][id]
        .as_str()
        .expect("demo client")
        .to_owned()
}

/// A password login of `user` with `password` through the `meshctl` client.
async fn login(stack: &Stack, from: Option<IpAddr>, user: &str, password: &str) -> HttpReply {
    let secret = client_secret(stack, "meshctl");
    let form = [
        ("grant_type", "password"),
        ("username", user),
        ("password", password),
    ];
    token_request(stack, from, Some(("meshctl", &secret)), &form).await
}

/// Everything a client sees of an answer but the date, and whether (not
/// exactly how long) it is told to wait: two refusals a second apart may
/// round their waits differently.
fn seen(reply: &HttpReply) -> (u16, Vec<(String, String)>, String) {
    let headers = reply
        .headers
        .iter()
        .filter(|(name, _)| name != "date")
        .map(|(name, value)| match name.as_str() {
            "retry-after" => (name.clone(), "given".to_owned()),
            _ => (name.clone(), value.clone()),
        })
        .collect();
    (reply.status, headers, reply.body.clone())
}

#[tokio::test]
async fn case_44_no_internal_token_through_the_public_door() {
    let stack = Stack::start(&[]).await;
    let alice = stack.token("alice").await;
    let form = [
        ("grant_type", EXCHANGE),
        ("subject_token", alice.as_str()),
        ("subject_token_type", ACCESS_TOKEN),
        ("audience", "accounts"),
    ];
    // The gateway forwards to auth with its own workload certificate; that
    // must lend the request nothing.
    let anonymous = token_request(&stack, None, None, &form).await;
    assert_eq!(anonymous.status, 401, "{}", anonymous.body);
    assert_eq!(anonymous.json()["error"], "invalid_client");
    assert!(!anonymous.body.contains("access_token"));

    // A real client without exchange rights for that audience.
    let secret = client_secret(&stack, "loadgen");
    let loadgen = token_request(&stack, None, Some(("loadgen", &secret)), &form).await;
    assert_eq!(loadgen.status, 400, "{}", loadgen.body);
    assert_eq!(loadgen.json()["error"], "invalid_target");
}

#[tokio::test]
async fn case_45_failed_logins_elsewhere_do_not_lock_out_the_owner() {
    let stack = Stack::start(&[slow_backoff()]).await;
    for _ in 0..6 {
        let guess = login(&stack, Some(ELSEWHERE), "bob", "guess").await;
        assert_eq!(guess.status, 400, "{}", guess.body);
    }
    let password = stack.credentials()["users"]["bob"]
        .as_str()
        .expect("bob")
        .to_owned();
    let attacker = login(&stack, Some(ELSEWHERE), "bob", &password).await;
    assert_eq!(attacker.status, 400, "the guessing address is slowed down");
    assert!(attacker.header("retry-after").is_some());
    let owner = login(&stack, None, "bob", &password).await;
    assert_eq!(
        owner.status, 200,
        "bob from his own address: {}",
        owner.body
    );
}

#[tokio::test]
async fn case_46_failed_logins_do_not_reveal_which_names_exist() {
    // The gateway's own per-address limit stays out of the comparison.
    let stack = Stack::start(&[("GATEWAY_RATE_IP", "1000".to_owned()), slow_backoff()]).await;
    for attempt in 0..6 {
        let known = login(&stack, None, "bob", "guess").await;
        let unknown = login(&stack, None, "bobby", "guess").await;
        assert_eq!(seen(&known), seen(&unknown), "attempt {attempt}");
    }
    // Clients too: a wrong secret for a real client and any secret for
    // an invented one.
    let form = [("grant_type", "client_credentials")];
    for attempt in 0..6 {
        let known = token_request(&stack, None, Some(("loadgen", "guess")), &form).await;
        let unknown = token_request(&stack, None, Some(("loadgen2", "guess")), &form).await;
        assert_eq!(seen(&known), seen(&unknown), "attempt {attempt}");
        assert_eq!(known.status, 401);
    }
}
