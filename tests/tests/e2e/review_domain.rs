//! Issue 13, the domain half of the security review, attacked from outside
//! through the real gateway: case 47 (staff may see every account but pay
//! only from their own) and case 50 (idempotency keys belong to their
//! caller, so nobody replays or squats another's).

use mesh::testing::HttpReply;
use serde_json::Value;

use crate::stack::Stack;

/// An open and funded account of `user`; returns its id.
async fn funded_account(s: &Stack, user: &str, amount_minor: i64) -> String {
    let id = s.open_account(&s.token(user).await).await;
    let deposit = deposit(
        s,
        &s.token("maria").await,
        &id,
        amount_minor,
        &format!("fund-{id}"),
    )
    .await;
    assert_eq!(deposit.status, 200, "deposit: {}", deposit.body);
    id
}

/// A deposit by staff `token` into `account` under `key`.
async fn deposit(s: &Stack, token: &str, account: &str, amount_minor: i64, key: &str) -> HttpReply {
    let body =
        format!(r#"{{"amountMinor":"{amount_minor}","currency":"EUR","idempotencyKey":"{key}"}}"#);
    s.call(
        "POST",
        &format!("/v1/accounts/{account}:deposit"),
        token,
        &body,
    )
    .await
}

/// An order of 2 × 12.50 EUR from `account` under `key`.
async fn order(s: &Stack, token: &str, account: &str, key: &str) -> HttpReply {
    let body = format!(
        r#"{{"accountId":"{account}","currency":"EUR","idempotencyKey":"{key}","items":[{{"sku":"tea","quantity":2,"unitPriceMinor":"1250"}}]}}"#
    );
    s.call("POST", "/v1/orders", token, &body).await
}

/// The balance of `account`, read by its owner's `token`.
async fn balance(s: &Stack, token: &str, account: &str) -> String {
    let reply = s
        .call("GET", &format!("/v1/accounts/{account}"), token, "")
        .await;
    assert_eq!(reply.status, 200, "read account: {}", reply.body);
    reply.json()["balanceMinor"]
        .as_str()
        .expect("balanceMinor")
        .to_owned()
}

/// Every order, as staff see them.
async fn all_orders(s: &Stack) -> Vec<Value> {
    let reply = s
        .call(
            "GET",
            "/v1/orders?pageSize=100",
            &s.token("maria").await,
            "",
        )
        .await;
    assert_eq!(reply.status, 200, "list orders: {}", reply.body);
    reply.json()["orders"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn case_47_staff_cannot_charge_a_customers_account() {
    let s = Stack::start(&[]).await;
    let alice = s.token("alice").await;
    let account = funded_account(&s, "alice", 10_000).await;

    // A MANAGER sees alice's account, and tries to pay with it; so does bob.
    for user in ["maria", "bob"] {
        let token = s.token(user).await;
        let refused = order(&s, &token, &account, &format!("{user}-1")).await;
        assert_eq!(refused.status, 404, "{user}: {}", refused.body);
    }
    assert_eq!(balance(&s, &alice, &account).await, "10000");
    assert_eq!(
        all_orders(&s).await,
        Vec::<Value>::new(),
        "no order written"
    );

    // Alice pays from her own account as before.
    let paid = order(&s, &alice, &account, "alice-1").await;
    assert_eq!(paid.status, 200, "{}", paid.body);
    let paid = paid.json();
    assert_eq!(paid["status"], "ORDER_STATUS_PAID", "{paid}");
    assert_eq!(paid["owner"], "alice");
    assert_eq!(balance(&s, &alice, &account).await, "7500");
}

#[tokio::test]
async fn case_50_a_squatted_refund_key_does_not_block_a_cancellation() {
    let s = Stack::start(&[]).await;
    let alice = s.token("alice").await;
    let maria = s.token("maria").await;
    let account = funded_account(&s, "alice", 10_000).await;
    let first = order(&s, &alice, &account, "o-1").await.json();
    let second = order(&s, &alice, &account, "o-2").await.json();
    for placed in [&first, &second] {
        assert_eq!(placed["status"], "ORDER_STATUS_PAID", "{placed}");
    }
    let first_id = first["orderId"].as_str().expect("orderId");

    // Staff refund the second order's payment under the key the saga will
    // use to refund the first: `cancel-<order id>`.
    let squat = s
        .call(
            "POST",
            &format!(
                "/v1/payments/{}:refund",
                second["paymentId"].as_str().expect("paymentId")
            ),
            &maria,
            &format!(r#"{{"idempotencyKey":"cancel-{first_id}","reason":"goodwill"}}"#),
        )
        .await;
    assert_eq!(squat.status, 200, "staff refund: {}", squat.body);

    let cancelled = s
        .call(
            "POST",
            &format!("/v1/orders/{first_id}:cancel"),
            &alice,
            r#"{"reason":"changed my mind"}"#,
        )
        .await;
    assert_eq!(cancelled.status, 200, "cancel: {}", cancelled.body);
    assert_eq!(cancelled.json()["status"], "ORDER_STATUS_CANCELLED");
    assert_eq!(
        balance(&s, &alice, &account).await,
        "10000",
        "both refunded"
    );
}

#[tokio::test]
async fn case_50_a_deposit_key_belongs_to_the_staff_member_who_used_it() {
    let s = Stack::start(&[]).await;
    let alice = s.token("alice").await;
    let (maria, ada) = (s.token("maria").await, s.token("ada").await);
    let account = funded_account(&s, "alice", 1_000).await;

    let by_maria = deposit(&s, &maria, &account, 100, "shared").await;
    assert_eq!(by_maria.status, 200, "{}", by_maria.body);
    // The same request under the same key by someone else is their own
    // deposit, not a replay of maria's answer.
    let by_ada = deposit(&s, &ada, &account, 100, "shared").await;
    assert_eq!(by_ada.status, 200, "{}", by_ada.body);
    assert_ne!(by_ada.json()["entryId"], by_maria.json()["entryId"]);
    assert_eq!(balance(&s, &alice, &account).await, "1200");

    // Each one's retry replays their own answer, once; a different body
    // under a used key is still refused.
    let retry = deposit(&s, &ada, &account, 100, "shared").await;
    assert_eq!(retry.json()["entryId"], by_ada.json()["entryId"]);
    let reused = deposit(&s, &maria, &account, 999, "shared").await;
    assert_eq!(reused.status, 409, "{}", reused.body);
    assert_eq!(balance(&s, &alice, &account).await, "1200");
}
