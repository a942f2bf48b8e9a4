//! Case 29 (another user's order, or account, by id), case 31 (server-owned
//! fields sent by the client are ignored) and the scopes the policy table
//! asks for.

use mesh_proto::orders::v1::{
    CancelOrderRequest, GetOrderRequest, ListOrdersRequest, Order, OrderItem, OrderStatus,
};
use serde_json::json;
use tonic::Code;

use crate::fixture::{self, create, order};

#[tokio::test]
async fn another_users_order_is_not_found_and_cannot_be_cancelled() {
    let setup = fixture::start().await;
    let account = setup.funded_account("alice", "EUR", 1_000).await;
    let paid = create(&mut setup.user("alice"), order(&account, 1, 100, "k1"))
        .await
        .expect("create");
    let mut bob = setup.user("bob");

    let theirs = bob
        .get_order(GetOrderRequest {
            order_id: paid.order_id.clone(),
        })
        .await
        .expect_err("alice's order");
    let missing = bob
        .get_order(GetOrderRequest {
            order_id: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .expect_err("no such order");
    assert_eq!(theirs.code(), Code::NotFound);
    assert_eq!(
        (theirs.code(), theirs.message()),
        (missing.code(), missing.message())
    );
    let cancel = bob
        .cancel_order(CancelOrderRequest {
            order_id: paid.order_id.clone(),
            reason: "mine now".to_owned(),
        })
        .await
        .expect_err("bob may not cancel alice's order");
    assert_eq!(cancel.code(), Code::NotFound);
    let listed = bob
        .list_orders(ListOrdersRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert!(listed.orders.is_empty());

    // Unchanged, and still visible to its owner and to staff.
    let own = setup
        .user("alice")
        .get_order(GetOrderRequest {
            order_id: paid.order_id.clone(),
        })
        .await
        .expect("alice reads her order")
        .into_inner();
    assert_eq!(own, paid);
    assert_eq!(setup.balance(&account).await, 900);
    let staff = setup
        .orders_as("gateway", &setup.token("maria", &["MANAGER"]))
        .list_orders(ListOrdersRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert_eq!(staff.orders, vec![paid]);
}

#[tokio::test]
async fn case_47_an_order_on_someone_elses_account_is_refused_and_writes_nothing() {
    let setup = fixture::start().await;
    let alices = setup.funded_account("alice", "EUR", 1_000).await;
    let missing = create(
        &mut setup.user("bob"),
        order(&uuid::Uuid::now_v7().to_string(), 1, 500, "k0"),
    )
    .await
    .expect_err("no such account");
    assert_eq!(missing.code(), Code::NotFound);

    // Bob, and a MANAGER who may see the account, may not pay from it; the
    // answer is the one for a missing account, so it tells nothing.
    let maria = setup.token("maria", &["MANAGER"]);
    for mut client in [setup.user("bob"), setup.orders_as("gateway", &maria)] {
        let refused = create(&mut client, order(&alices, 1, 500, "k1"))
            .await
            .expect_err("not the caller's account");
        assert_eq!(
            (refused.code(), refused.message()),
            (missing.code(), missing.message())
        );
    }
    let listed = setup
        .orders_as("gateway", &maria)
        .list_orders(ListOrdersRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.orders, Vec::<Order>::new(), "no order written");
    assert_eq!(setup.payments().await, Vec::new(), "no payment recorded");
    assert_eq!(setup.balance(&alices).await, 1_000);
    assert_eq!(setup.ledger(&alices).await.len(), 1, "the deposit only");
}

/// `CreateOrderRequest` from a client that also sends the server-owned
/// fields of `Order` (amount, status, payment) under their field numbers.
#[derive(Clone, PartialEq, prost::Message)]
struct CreateOrderWithServerFields {
    #[prost(string, tag = "1")]
    account_id: String,
    #[prost(message, repeated, tag = "2")]
    items: Vec<OrderItem>,
    #[prost(string, tag = "3")]
    currency: String,
    #[prost(string, tag = "4")]
    idempotency_key: String,
    #[prost(int64, tag = "5")]
    amount_minor: i64,
    #[prost(int32, tag = "7")]
    status: i32,
    #[prost(string, tag = "8")]
    payment_id: String,
}

#[tokio::test]
async fn server_owned_fields_sent_by_a_client_are_ignored() {
    let setup = fixture::start().await;
    let account = setup.funded_account("mallory", "EUR", 1_000).await;
    let mut grpc = tonic::client::Grpc::new(setup.channel(
        "gateway",
        &setup.token("mallory", &["USER"]),
        setup.orders_addr,
    ));
    grpc.ready().await.expect("channel ready");
    let request = CreateOrderWithServerFields {
        account_id: account.clone(),
        items: vec![OrderItem {
            sku: "gold".to_owned(),
            quantity: 2,
            unit_price_minor: 300,
        }],
        currency: "EUR".to_owned(),
        idempotency_key: "k1".to_owned(),
        amount_minor: 1,
        status: OrderStatus::Paid as i32,
        payment_id: "forged".to_owned(),
    };
    let order: Order = grpc
        .unary(
            tonic::Request::new(request),
            http::uri::PathAndQuery::from_static("/orders.v1.Orders/CreateOrder"),
            tonic_prost::ProstCodec::<CreateOrderWithServerFields, Order>::default(),
        )
        .await
        .expect("create")
        .into_inner();
    assert_eq!(order.amount_minor, 600, "the server computes the amount");
    assert_eq!(order.status(), OrderStatus::Paid);
    assert_ne!(order.payment_id, "forged");
    assert_eq!(order.owner, "mallory");
    assert_eq!(setup.balance(&account).await, 400);
}

#[tokio::test]
async fn the_policy_table_asks_for_order_scopes() {
    let setup = fixture::start().await;
    let account = setup.funded_account("alice", "EUR", 1_000).await;
    let read_only = setup.token_with("alice", |claims| {
        claims["scope"] = json!("orders:read accounts:read payments:read")
    });
    let denied = create(
        &mut setup.orders_as("gateway", &read_only),
        order(&account, 1, 100, "k1"),
    )
    .await
    .expect_err("orders:write is needed");
    assert_eq!(denied.code(), Code::PermissionDenied);
    let no_read = setup.token_with("alice", |claims| claims["scope"] = json!("orders:write"));
    let denied = setup
        .orders_as("gateway", &no_read)
        .list_orders(ListOrdersRequest::default())
        .await
        .expect_err("orders:read is needed");
    assert_eq!(denied.code(), Code::PermissionDenied);
    // Only the gateway (and load-test peers, when switched on) may call orders.
    let token = setup.token("alice", &["USER"]);
    let denied = create(
        &mut setup.orders_as("payments", &token),
        order(&account, 1, 100, "k2"),
    )
    .await
    .expect_err("payments is not a client of orders");
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert_eq!(setup.balance(&account).await, 1_000);
}
