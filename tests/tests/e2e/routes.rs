//! Every REST route of the protos, end to end with tokens from auth, and
//! each read the same as the gRPC call through the gateway.

use mesh::testing::{ClientCert, raw_channel};
use mesh_proto::{
    accounts::v1::{
        GetAccountRequest, ListAccountsRequest, ListLedgerEntriesRequest,
        accounts_client::AccountsClient,
    },
    orders::v1::{ListOrdersRequest, orders_client::OrdersClient},
    payments::v1::{GetPaymentRequest, ListPaymentsRequest, payments_client::PaymentsClient},
};
use serde_json::Value;
use tonic::transport::Channel;

use crate::stack::Stack;

fn authorized<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("header"),
    );
    request
}

async fn ok(s: &Stack, method: &str, path: &str, token: &str, body: &str) -> Value {
    let reply = s.call(method, path, token, body).await;
    assert_eq!(reply.status, 200, "{method} {path}: {}", reply.body);
    reply.json()
}

async fn order(s: &Stack, token: &str, account: &str, key: &str) -> Value {
    let body = format!(
        r#"{{"accountId":"{account}","currency":"EUR","idempotencyKey":"{key}","items":[{{"sku":"tea","quantity":1,"unitPriceMinor":"400"}}]}}"#
    );
    let order = ok(s, "POST", "/v1/orders", token, &body).await;
    assert_eq!(order["status"], "ORDER_STATUS_PAID", "{order}");
    order
}

#[tokio::test]
async fn every_rest_route_works_and_matches_grpc() {
    let s = Stack::start(&[]).await;
    let (alice, maria, ada) = (
        s.token("alice").await,
        s.token("maria").await,
        s.token("ada").await,
    );
    let grpc: Channel = raw_channel(&ClientCert::None, &s.pki.dir().ca_cert(), s.public());

    // OpenAccount, Deposit, CreateOrder.
    let account = ok(&s, "POST", "/v1/accounts", &alice, r#"{"currency":"EUR"}"#).await;
    let id = account["accountId"].as_str().expect("accountId").to_owned();
    let deposit = r#"{"amountMinor":"5000","currency":"EUR","idempotencyKey":"r-dep"}"#;
    ok(
        &s,
        "POST",
        &format!("/v1/accounts/{id}:deposit"),
        &maria,
        deposit,
    )
    .await;
    let first = order(&s, &alice, &id, "r-o1").await;
    let second = order(&s, &alice, &id, "r-o2").await;

    // GetAccount.
    let rest = ok(&s, "GET", &format!("/v1/accounts/{id}"), &alice, "").await;
    let via = AccountsClient::new(grpc.clone())
        .get_account(authorized(
            GetAccountRequest {
                account_id: id.clone(),
            },
            &alice,
        ))
        .await
        .expect("GetAccount")
        .into_inner();
    assert_eq!(rest["balanceMinor"], via.balance_minor.to_string());
    assert_eq!(rest["balanceMinor"], "4200");

    // ListAccounts with a query parameter.
    let rest = ok(&s, "GET", "/v1/accounts?pageSize=10", &alice, "").await;
    let via = AccountsClient::new(grpc.clone())
        .list_accounts(authorized(
            ListAccountsRequest {
                page_size: 10,
                ..Default::default()
            },
            &alice,
        ))
        .await
        .expect("ListAccounts")
        .into_inner();
    assert_eq!(
        rest["accounts"].as_array().map(Vec::len),
        Some(via.accounts.len())
    );

    // ListLedgerEntries.
    let rest = ok(
        &s,
        "GET",
        &format!("/v1/accounts/{id}/ledger?pageSize=10"),
        &alice,
        "",
    )
    .await;
    let via = AccountsClient::new(grpc.clone())
        .list_ledger_entries(authorized(
            ListLedgerEntriesRequest {
                account_id: id.clone(),
                page_size: 10,
                ..Default::default()
            },
            &alice,
        ))
        .await
        .expect("ListLedgerEntries")
        .into_inner();
    assert_eq!(
        rest["entries"].as_array().map(Vec::len),
        Some(via.entries.len())
    );
    assert_eq!(via.entries.len(), 3, "a deposit and two debits");

    // GetPayment and ListPayments.
    let payment_id = first["paymentId"].as_str().expect("paymentId").to_owned();
    let rest = ok(&s, "GET", &format!("/v1/payments/{payment_id}"), &alice, "").await;
    let via = PaymentsClient::new(grpc.clone())
        .get_payment(authorized(
            GetPaymentRequest {
                payment_id: payment_id.clone(),
            },
            &alice,
        ))
        .await
        .expect("GetPayment")
        .into_inner();
    assert_eq!(rest["amountMinor"], via.amount_minor.to_string());
    assert_eq!(rest["status"], "PAYMENT_STATUS_CAPTURED");
    let rest = ok(&s, "GET", "/v1/payments?pageSize=10", &alice, "").await;
    let via = PaymentsClient::new(grpc.clone())
        .list_payments(authorized(
            ListPaymentsRequest {
                page_size: 10,
                ..Default::default()
            },
            &alice,
        ))
        .await
        .expect("ListPayments")
        .into_inner();
    assert_eq!(
        rest["payments"].as_array().map(Vec::len),
        Some(via.payments.len())
    );

    // ListOrders.
    let rest = ok(&s, "GET", "/v1/orders?pageSize=10", &alice, "").await;
    let via = OrdersClient::new(grpc.clone())
        .list_orders(authorized(
            ListOrdersRequest {
                page_size: 10,
                ..Default::default()
            },
            &alice,
        ))
        .await
        .expect("ListOrders")
        .into_inner();
    assert_eq!(
        rest["orders"].as_array().map(Vec::len),
        Some(via.orders.len())
    );
    assert_eq!(via.orders.len(), 2);

    // CancelOrder refunds the first order; Refund (a MANAGER) the second.
    let order_id = first["orderId"].as_str().expect("orderId");
    let cancelled = ok(
        &s,
        "POST",
        &format!("/v1/orders/{order_id}:cancel"),
        &alice,
        r#"{"reason":"no"}"#,
    )
    .await;
    assert_eq!(cancelled["status"], "ORDER_STATUS_CANCELLED", "{cancelled}");
    let second_payment = second["paymentId"].as_str().expect("paymentId");
    let refund = r#"{"idempotencyKey":"r-ref","reason":"goodwill"}"#;
    let refunded = ok(
        &s,
        "POST",
        &format!("/v1/payments/{second_payment}:refund"),
        &maria,
        refund,
    )
    .await;
    assert_eq!(refunded["status"], "PAYMENT_STATUS_REFUNDED", "{refunded}");
    let balance = ok(&s, "GET", &format!("/v1/accounts/{id}"), &alice, "").await;
    assert_eq!(balance["balanceMinor"], "5000", "both orders refunded");

    // FreezeAccount (ADMIN).
    let frozen = ok(
        &s,
        "POST",
        &format!("/v1/accounts/{id}:freeze"),
        &ada,
        r#"{"reason":"audit"}"#,
    )
    .await;
    assert_eq!(frozen["status"], "ACCOUNT_STATUS_FROZEN", "{frozen}");
}
