//! The saga end to end: paid once per key (case 41), declined without
//! error, cancelled with one refund, and a request in flight ABORTED.

use std::time::Duration;

use mesh::config::TokenModeArg;
use mesh_proto::{
    accounts::v1::EntryKind,
    orders::v1::{CancelOrderRequest, OrderItem, OrderStatus},
    payments::v1::PaymentStatus,
};
use tokio::net::TcpListener;
use tonic::Code;

use crate::fixture::{self, create, order, start_orders};

#[tokio::test]
async fn an_order_is_paid_once_per_key() {
    let setup = fixture::start().await;
    let account = setup.funded_account("alice", "EUR", 10_000).await;
    let mut alice = setup.user("alice");
    let mut request = order(&account, 3, 250, "k1");
    request.items.push(OrderItem {
        sku: "sku-2".to_owned(),
        quantity: 1,
        unit_price_minor: 99,
    });

    let paid = create(&mut alice, request.clone()).await.expect("create");
    assert_eq!(paid.status(), OrderStatus::Paid);
    assert_eq!(paid.amount_minor, 3 * 250 + 99);
    assert_eq!(paid.owner, "alice");
    assert_eq!(paid.items, request.items);
    let again = create(&mut alice, request.clone()).await.expect("retry");
    assert_eq!(again, paid, "the retry replays the first answer");

    let mut changed = request.clone();
    changed.items[0].quantity = 4;
    let reused = create(&mut alice, changed)
        .await
        .expect_err("same key, different order");
    assert_eq!(reused.code(), Code::AlreadyExists);

    // Keys belong to their subject: Bob's "k1" is his own order.
    let bobs_account = setup.funded_account("bob", "EUR", 1_000).await;
    let bobs = create(&mut setup.user("bob"), order(&bobs_account, 1, 10, "k1"))
        .await
        .expect("bob's order");
    assert_ne!(bobs.order_id, paid.order_id);

    assert_eq!(setup.balance(&account).await, 10_000 - paid.amount_minor);
    let debits: Vec<_> = setup
        .ledger(&account)
        .await
        .into_iter()
        .filter(|e| e.kind() == EntryKind::Debit)
        .collect();
    assert_eq!(debits.len(), 1);
    assert_eq!(debits[0].reference, paid.payment_id);
    let payment = setup
        .payments()
        .await
        .into_iter()
        .find(|p| p.payment_id == paid.payment_id)
        .expect("the order's payment");
    assert_eq!(payment.status(), PaymentStatus::Captured);
    assert_eq!(payment.amount_minor, paid.amount_minor);
    assert_eq!(payment.reference, paid.order_id);
}

#[tokio::test]
async fn an_order_the_account_cannot_pay_is_declined() {
    let setup = fixture::start().await;
    let account = setup.funded_account("alice", "EUR", 100).await;
    let declined = create(&mut setup.user("alice"), order(&account, 1, 101, "k1"))
        .await
        .expect("a decline is an answer");
    assert_eq!(declined.status(), OrderStatus::Declined);
    assert_eq!(declined.decline_reason, "insufficient funds");
    assert_eq!(setup.balance(&account).await, 100);

    let refused = setup
        .user("alice")
        .cancel_order(CancelOrderRequest {
            order_id: declined.order_id.clone(),
            reason: String::new(),
        })
        .await
        .expect_err("nothing to cancel");
    assert_eq!(refused.code(), Code::FailedPrecondition);
}

#[tokio::test]
async fn cancelling_a_paid_order_refunds_it_once() {
    let setup = fixture::start().await;
    let account = setup.funded_account("alice", "EUR", 1_000).await;
    let mut alice = setup.user("alice");
    let paid = create(&mut alice, order(&account, 2, 200, "k1"))
        .await
        .expect("create");
    assert_eq!(setup.balance(&account).await, 600);

    let cancel = CancelOrderRequest {
        order_id: paid.order_id.clone(),
        reason: "changed my mind".to_owned(),
    };
    let cancelled = alice
        .cancel_order(cancel.clone())
        .await
        .expect("cancel")
        .into_inner();
    assert_eq!(cancelled.status(), OrderStatus::Cancelled);
    let again = alice
        .cancel_order(cancel)
        .await
        .expect("cancel again")
        .into_inner();
    assert_eq!(again.status(), OrderStatus::Cancelled);

    assert_eq!(setup.balance(&account).await, 1_000);
    let credits = setup
        .ledger(&account)
        .await
        .into_iter()
        .filter(|e| e.kind() == EntryKind::Credit)
        .count();
    assert_eq!(credits, 1);
    let payments = setup.payments().await;
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0].status(), PaymentStatus::Refunded);
}

#[tokio::test]
async fn a_create_still_in_flight_gets_aborted() {
    let setup = fixture::start().await;
    let account = setup.funded_account("alice", "EUR", 1_000).await;
    // An orders whose payments never answers.
    let blackhole = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let data = tempfile::tempdir().expect("temp dir");
    let stuck = start_orders(
        &setup.pki,
        &setup.auth,
        setup.mode,
        data.path(),
        blackhole.local_addr().expect("addr"),
        Duration::from_secs(3600),
    )
    .await;
    let token = setup.token("alice", &["USER"]);
    let client = || {
        mesh_proto::orders::v1::orders_client::OrdersClient::new(setup.channel(
            "gateway",
            &token,
            stuck.grpc_addr,
        ))
    };
    let mut first = client();
    let mut request = tonic::Request::new(order(&account, 1, 100, "k1"));
    request.set_timeout(Duration::from_secs(2));
    let first = tokio::spawn(async move { first.create_order(request).await });

    // Once orders dials payments, the first request holds its key.
    let _held = blackhole.accept().await.expect("orders dials payments");
    let aborted = create(&mut client(), order(&account, 1, 100, "k1"))
        .await
        .expect_err("the same key is in flight");
    assert_eq!(aborted.code(), Code::Aborted);

    let first = first
        .await
        .expect("join")
        .expect_err("payments never answered");
    assert!(
        matches!(first.code(), Code::DeadlineExceeded | Code::Cancelled),
        "{first:?}"
    );
    assert_eq!(setup.balance(&account).await, 1_000);
}

#[tokio::test]
async fn the_saga_works_whichever_way_tokens_are_passed_on() {
    for mode in [TokenModeArg::Propagate, TokenModeArg::Exchange] {
        let setup = fixture::start_in(mode, Duration::from_secs(3600)).await;
        let account = setup.funded_account("alice", "EUR", 1_000).await;
        let mut alice = setup.user("alice");
        let paid = create(&mut alice, order(&account, 2, 150, "k1"))
            .await
            .expect("create");
        assert_eq!(paid.status(), OrderStatus::Paid, "{mode:?}");
        assert_eq!(setup.balance(&account).await, 700, "{mode:?}");
        let cancelled = alice
            .cancel_order(CancelOrderRequest {
                order_id: paid.order_id.clone(),
                reason: String::new(),
            })
            .await
            .expect("cancel")
            .into_inner();
        assert_eq!(cancelled.status(), OrderStatus::Cancelled, "{mode:?}");
        assert_eq!(setup.balance(&account).await, 1_000, "{mode:?}");
    }
}
