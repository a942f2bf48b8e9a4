//! Case 39 for orders: zero, negative and overflowing quantities and
//! prices, too many items, bad currencies and keys are rejected before
//! anything is written; a currency the account does not hold is declined
//! with no money moved.

use mesh_proto::orders::v1::{CreateOrderRequest, ListOrdersRequest, OrderItem, OrderStatus};
use tonic::Code;

use crate::fixture::{self, create, order};

#[tokio::test]
async fn bad_orders_are_rejected_with_nothing_written() {
    let setup = fixture::start().await;
    let account = setup.funded_account("alice", "EUR", 1_000_000).await;
    let mut alice = setup.user("alice");
    let item = |quantity, unit_price_minor| OrderItem {
        sku: "sku".to_owned(),
        quantity,
        unit_price_minor,
    };
    let with_items = |items: Vec<OrderItem>| CreateOrderRequest {
        items,
        ..order(&account, 1, 1, "k")
    };
    let mut bad = vec![
        with_items(vec![]),
        with_items(vec![item(0, 100)]),
        with_items(vec![item(-3, 100)]),
        with_items(vec![item(1, 0)]),
        with_items(vec![item(1, -100)]),
        with_items(vec![item(1, i64::MAX)]),
        with_items(vec![item(i32::MAX, 1)]),
        with_items(vec![item(1, 1); 101]),
        // Each line within its limits, the total over the order limit.
        with_items(vec![item(10_000, 1_000_000_000); 100]),
    ];
    for currency in ["", "eur", "EURO"] {
        bad.push(CreateOrderRequest {
            currency: currency.to_owned(),
            ..order(&account, 1, 100, "k")
        });
    }
    bad.push(order(&account, 1, 100, ""));
    bad.push(order(&account, 1, 100, &"k".repeat(129)));
    bad.push(order("not-an-account", 1, 100, "k"));
    for request in bad {
        let refused = create(&mut alice, request.clone())
            .await
            .expect_err("invalid order");
        assert_eq!(refused.code(), Code::InvalidArgument, "{request:?}");
    }
    let listed = alice
        .list_orders(ListOrdersRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert!(listed.orders.is_empty(), "nothing was written");
    assert!(setup.payments().await.is_empty());
    assert_eq!(setup.balance(&account).await, 1_000_000);
}

#[tokio::test]
async fn an_order_in_another_currency_is_declined_with_no_money_moved() {
    let setup = fixture::start().await;
    let account = setup.funded_account("alice", "EUR", 1_000).await;
    let usd = CreateOrderRequest {
        currency: "USD".to_owned(),
        ..order(&account, 1, 100, "k1")
    };
    let declined = create(&mut setup.user("alice"), usd)
        .await
        .expect("declined");
    assert_eq!(declined.status(), OrderStatus::Declined);
    assert!(declined.decline_reason.contains("EUR"), "{declined:?}");
    assert_eq!(setup.balance(&account).await, 1_000);
    assert_eq!(setup.ledger(&account).await.len(), 1, "the deposit only");
}
