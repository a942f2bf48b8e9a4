//! The real gateway in front of the real services and auth: a secure order
//! end to end, REST and gRPC giving the same answers.

use mesh::testing::{ClientCert, raw_channel};
use mesh_proto::orders::v1::{GetOrderRequest, orders_client::OrdersClient};

use crate::stack::Stack;

#[tokio::test]
async fn an_order_goes_through_the_whole_mesh() {
    let s = Stack::start(&[]).await;
    let alice = s.token("alice").await;
    let maria = s.token("maria").await;

    let account_id = s.open_account(&alice).await;

    let deposit = s
        .call(
            "POST",
            &format!("/v1/accounts/{account_id}:deposit"),
            &maria,
            r#"{"amountMinor":"10000","currency":"EUR","idempotencyKey":"dep-1"}"#,
        )
        .await;
    assert_eq!(deposit.status, 200, "deposit: {}", deposit.body);

    let order = s
        .call(
            "POST",
            "/v1/orders",
            &alice,
            &format!(
                r#"{{"accountId":"{account_id}","currency":"EUR","idempotencyKey":"o-1","items":[{{"sku":"tea","quantity":2,"unitPriceMinor":"1250"}}]}}"#
            ),
        )
        .await;
    assert_eq!(order.status, 200, "order: {}", order.body);
    let order = order.json();
    assert_eq!(order["status"], "ORDER_STATUS_PAID", "{order}");
    assert_eq!(order["amountMinor"], "2500");
    let order_id = order["orderId"].as_str().expect("orderId").to_owned();

    let balance = s
        .call("GET", &format!("/v1/accounts/{account_id}"), &alice, "")
        .await;
    assert_eq!(balance.json()["balanceMinor"], "7500", "{}", balance.body);

    // The same order over native gRPC through the gateway.
    let channel = raw_channel(&ClientCert::None, &s.pki.dir().ca_cert(), s.public());
    let mut request = tonic::Request::new(GetOrderRequest {
        order_id: order_id.clone(),
    });
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {alice}").parse().expect("header"),
    );
    let grpc = OrdersClient::new(channel)
        .get_order(request)
        .await
        .expect("gRPC")
        .into_inner();
    let rest = s
        .call("GET", &format!("/v1/orders/{order_id}"), &alice, "")
        .await
        .json();
    assert_eq!(rest["orderId"], grpc.order_id);
    assert_eq!(rest["amountMinor"], grpc.amount_minor.to_string());
    assert_eq!(rest["paymentId"], grpc.payment_id);

    // Another user cannot see it.
    let bob = s.token("bob").await;
    let peek = s
        .call("GET", &format!("/v1/orders/{order_id}"), &bob, "")
        .await;
    assert_eq!(peek.status, 404, "{}", peek.body);
}
