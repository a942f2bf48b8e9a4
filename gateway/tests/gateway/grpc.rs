//! Native gRPC through the gateway, with the same answers as REST.

use mesh::testing::{ClientCert, raw_channel};
use mesh_proto::{
    accounts::v1::{DebitRequest, accounts_client::AccountsClient},
    orders::v1::{GetOrderRequest, orders_client::OrdersClient},
};
use tonic::{Code, Request};

use crate::fixture::Stack;

fn with_token<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("header"),
    );
    request
}

#[tokio::test]
async fn a_grpc_client_calls_through_the_gateway_with_a_bearer_token() {
    let s = Stack::start().await;
    let token = s.token("alice");
    let channel = raw_channel(&ClientCert::None, &s.pki.dir().ca_cert(), s.public);
    let order = OrdersClient::new(channel)
        .get_order(with_token(
            GetOrderRequest {
                order_id: "o-7".to_owned(),
            },
            &token,
        ))
        .await
        .expect("through the gateway")
        .into_inner();
    assert_eq!(
        (order.order_id.as_str(), order.owner.as_str()),
        ("o-7", "alice")
    );

    // The same call over REST gives the same answer.
    let rest = s.call("GET", "/v1/orders/o-7", &token, "").await.json();
    assert_eq!(rest["orderId"], order.order_id);
    assert_eq!(rest["owner"], order.owner);
    assert_eq!(rest["amountMinor"], order.amount_minor.to_string());
}

#[tokio::test]
async fn grpc_without_a_token_is_unauthenticated() {
    let s = Stack::start().await;
    let channel = raw_channel(&ClientCert::None, &s.pki.dir().ca_cert(), s.public);
    let error = OrdersClient::new(channel)
        .get_order(GetOrderRequest::default())
        .await
        .expect_err("refused");
    assert_eq!(error.code(), Code::Unauthenticated);
    assert_eq!(s.orders.calls(), 0);
}

#[tokio::test]
async fn case_32_internal_rpcs_are_not_reachable_from_outside() {
    let s = Stack::start().await;
    let channel = raw_channel(&ClientCert::None, &s.pki.dir().ca_cert(), s.public);
    let error = AccountsClient::new(channel)
        .debit(with_token(DebitRequest::default(), &s.token("alice")))
        .await
        .expect_err("not routable");
    assert_eq!(error.code(), Code::Unimplemented, "{error:?}");
    let reply = s
        .call(
            "POST",
            "/accounts.v1.Accounts/Debit",
            &s.token("alice"),
            "{}",
        )
        .await;
    assert_eq!(reply.status, 404);
}
