//! Interrupted sagas end exactly once: a retry after payments was down
//! pays once (case 41, "after a 5xx"), and a restarted orders resumes its
//! PENDING orders with its own token: it finishes a charge the user
//! started and declines one that never reached payments. An order nobody
//! could check the account of (payments down) is written, and its charge
//! declines an account that is not the orderer's (case 47).

use std::time::Duration;

use mesh::testing::eventually;
use mesh_proto::{
    accounts::v1::EntryKind,
    orders::v1::{CreateOrderRequest, GetOrderRequest, Order, OrderStatus},
    payments::v1::{ChargeRequest, PaymentStatus, payments_client::PaymentsClient},
};

use crate::fixture::{self, Setup, create, order};

/// `request` with a deadline of one second, which bounds how long orders
/// keeps retrying a payments outage before it answers PENDING.
fn hurried(request: CreateOrderRequest) -> tonic::Request<CreateOrderRequest> {
    let mut request = tonic::Request::new(request);
    request.set_timeout(Duration::from_secs(1));
    request
}

/// Order `id` once it has left PENDING, within 20 s.
async fn settled(setup: &Setup, owner: &str, id: &str) -> Order {
    let client = setup.user(owner);
    let found = eventually(Duration::from_secs(20), || {
        let mut client = client.clone();
        let request = GetOrderRequest {
            order_id: id.to_owned(),
        };
        async move {
            let order = client.get_order(request).await.ok()?.into_inner();
            (order.status() != OrderStatus::Pending).then_some(order)
        }
    })
    .await;
    found.unwrap_or_else(|| panic!("order {id} was not settled within 20 s"))
}

#[tokio::test]
async fn a_retry_after_payments_was_down_pays_once() {
    let mut setup = fixture::start().await;
    let account = setup.funded_account("alice", "EUR", 1_000).await;
    setup.stop_payments().await;

    let mut alice = setup.user("alice");
    let pending = create(&mut alice, hurried(order(&account, 1, 300, "k1")))
        .await
        .expect("the order is written even while payments is down");
    assert_eq!(pending.status(), OrderStatus::Pending);

    setup.restart_payments().await;
    let paid = create(&mut alice, order(&account, 1, 300, "k1"))
        .await
        .expect("retry");
    assert_eq!(paid.order_id, pending.order_id);
    assert_eq!(paid.status(), OrderStatus::Paid);
    assert_eq!(setup.balance(&account).await, 700);
}

#[tokio::test]
async fn a_restarted_orders_finishes_what_the_user_started_and_declines_the_rest() {
    let mut setup = fixture::start().await;
    let account = setup.funded_account("alice", "EUR", 1_000).await;
    setup.stop_payments().await;
    let mut alice = setup.user("alice");
    let started = create(&mut alice, hurried(order(&account, 1, 300, "k1")))
        .await
        .expect("written while payments is down");
    let never = create(&mut alice, hurried(order(&account, 1, 200, "k2")))
        .await
        .expect("written while payments is down");
    assert_eq!(
        (started.status(), never.status()),
        (OrderStatus::Pending, OrderStatus::Pending)
    );

    // The first charge reached payments, with Alice's token, just before
    // orders went down; the second never did.
    setup.restart_payments().await;
    let token = setup.token("alice", &["USER"]);
    let captured = PaymentsClient::new(setup.channel("orders", &token, setup.payments_addr))
        .charge(ChargeRequest {
            account_id: account.clone(),
            amount_minor: started.amount_minor,
            currency: started.currency.clone(),
            idempotency_key: orders::charge_key(&started.order_id),
            reference: started.order_id.clone(),
            validate_only: false,
        })
        .await
        .expect("charge")
        .into_inner();
    assert_eq!(captured.status(), PaymentStatus::Captured);

    // A new orders on the same database resumes both with its own token.
    setup.restart_orders().await;
    let started = settled(&setup, "alice", &started.order_id).await;
    assert_eq!(started.status(), OrderStatus::Paid);
    assert_eq!(started.payment_id, captured.payment_id);
    let never = settled(&setup, "alice", &never.order_id).await;
    assert_eq!(never.status(), OrderStatus::Declined, "{never:?}");

    assert_eq!(setup.balance(&account).await, 700);
    let debits = setup
        .ledger(&account)
        .await
        .into_iter()
        .filter(|e| e.kind() == EntryKind::Debit)
        .count();
    assert_eq!(debits, 1);
}

#[tokio::test]
async fn case_47_a_staff_order_written_while_payments_was_down_pays_nothing() {
    let mut setup = fixture::start().await;
    let account = setup.funded_account("alice", "EUR", 1_000).await;
    setup.stop_payments().await;

    // Nobody could check the account, so the order is written; its charge
    // makes the check before any money moves.
    let mut maria = setup.orders_as("gateway", &setup.token("maria", &["MANAGER"]));
    let pending = create(&mut maria, hurried(order(&account, 1, 300, "k1")))
        .await
        .expect("written while payments is down");
    assert_eq!(pending.status(), OrderStatus::Pending);

    setup.restart_payments().await;
    let retried = create(&mut maria, order(&account, 1, 300, "k1"))
        .await
        .expect("retry");
    assert_eq!(retried.order_id, pending.order_id);
    assert_eq!(retried.status(), OrderStatus::Declined, "{retried:?}");
    assert_eq!(setup.balance(&account).await, 1_000);
}

/// The resumer's backlog as `/metrics` shows it: unfinished orders and
/// the age of the oldest, what the OrdersStuck alert reads.
async fn backlog(setup: &Setup) -> (f64, f64) {
    let admin = setup.orders.as_ref().expect("orders runs").admin_addr;
    let text = mesh::testing::http_get(admin, "/metrics").await.1;
    (
        mesh::testing::metric(&text, "mesh_orders_unfinished", "service=\"orders\""),
        mesh::testing::metric(
            &text,
            "mesh_orders_unfinished_oldest_age_seconds",
            "service=\"orders\"",
        ),
    )
}

#[tokio::test]
async fn the_resumer_exports_its_backlog() {
    // A pass every 100 ms, so the gauges follow the orders closely.
    let mut setup = fixture::start_with(Duration::from_millis(100)).await;
    let account = setup.funded_account("alice", "EUR", 1_000).await;
    setup.stop_payments().await;
    let mut alice = setup.user("alice");
    let pending = create(&mut alice, hurried(order(&account, 1, 300, "k1")))
        .await
        .expect("written while payments is down");
    assert_eq!(pending.status(), OrderStatus::Pending);
    let stuck = eventually(Duration::from_secs(20), || async {
        let (unfinished, age) = backlog(&setup).await;
        (unfinished == 1.0).then_some(age)
    })
    .await;
    assert!(
        stuck.is_some_and(|age| age >= 0.0),
        "the pending order never showed: {:?}",
        backlog(&setup).await
    );

    setup.restart_payments().await;
    settled(&setup, "alice", &pending.order_id).await;
    let drained = eventually(Duration::from_secs(20), || async {
        (backlog(&setup).await == (0.0, 0.0)).then_some(())
    })
    .await;
    assert!(
        drained.is_some(),
        "backlog left: {:?}",
        backlog(&setup).await
    );
}
