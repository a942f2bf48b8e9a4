//! Refunds: once per key (case 41), only for `orders` and staff with
//! `payments:write` (case 30), refused and replayed when the account
//! cannot take the money back; a key is its caller's own (case 50).

use mesh::testing::metric;
use mesh_proto::payments::v1::{PaymentStatus, RefundRequest};
use tonic::Code;

use crate::fixture::{self, charge, charge_request};

fn refund(payment: &str, key: &str) -> RefundRequest {
    RefundRequest {
        payment_id: payment.to_owned(),
        idempotency_key: key.to_owned(),
        reason: "customer asked".to_owned(),
    }
}

#[tokio::test]
async fn a_refund_credits_once_per_key() {
    let setup = fixture::start().await;
    let account = setup.funded_account("alice", "EUR", 1_000).await;
    let mut orders = setup.orders_for("alice");
    let paid = charge(&mut orders, charge_request(&account, 400, "c1"))
        .await
        .expect("charge");
    let other = charge(&mut orders, charge_request(&account, 100, "c2"))
        .await
        .expect("charge");

    let refunded = orders
        .refund(refund(&paid.payment_id, "r1"))
        .await
        .expect("refund")
        .into_inner();
    assert_eq!(refunded.status(), PaymentStatus::Refunded);
    let again = orders
        .refund(refund(&paid.payment_id, "r1"))
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(again, refunded);

    let twice = orders
        .refund(refund(&paid.payment_id, "r2"))
        .await
        .expect_err("refunded already");
    assert_eq!(twice.code(), Code::FailedPrecondition);
    let reused = orders
        .refund(refund(&other.payment_id, "r1"))
        .await
        .expect_err("the key belongs to another refund");
    assert_eq!(reused.code(), Code::AlreadyExists);

    assert_eq!(setup.balance(&account).await, 900);
    let credits = setup
        .ledger(&account)
        .await
        .into_iter()
        .filter(|e| e.kind() == mesh_proto::accounts::v1::EntryKind::Credit)
        .count();
    assert_eq!(credits, 1);
}

#[tokio::test]
async fn a_user_cannot_refund_and_staff_need_the_write_scope() {
    let setup = fixture::start().await;
    let account = setup.funded_account("alice", "EUR", 1_000).await;
    let paid = charge(
        &mut setup.orders_for("alice"),
        charge_request(&account, 400, "c1"),
    )
    .await
    .expect("charge");
    let metrics = || async {
        let text = mesh::testing::http_get(setup.payments.admin_addr, "/metrics")
            .await
            .1;
        metric(&text, "mesh_authz_denied_total", "Refund")
    };
    let before = metrics().await;

    // Alice, even with the scope, through the gateway or directly.
    let alice = setup.token_with_scope("alice", &["USER"], "payments:write");
    for peer in ["gateway", "loadgen"] {
        let denied = setup
            .payments_as(peer, &alice)
            .refund(refund(&paid.payment_id, "mine"))
            .await
            .expect_err("a USER may not refund");
        assert_eq!(denied.code(), Code::PermissionDenied, "{peer}");
    }
    // A MANAGER without `payments:write`.
    let denied = setup
        .payments_as("gateway", &setup.token("maria", &["MANAGER"]))
        .refund(refund(&paid.payment_id, "staff"))
        .await
        .expect_err("the scope is needed");
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert_eq!(metrics().await - before, 3.0, "handler denials are counted");
    assert_eq!(setup.balance(&account).await, 600);

    let manager = setup.token_with_scope("maria", &["MANAGER"], "payments:write");
    let refunded = setup
        .payments_as("gateway", &manager)
        .refund(refund(&paid.payment_id, "staff"))
        .await
        .expect("a MANAGER refunds")
        .into_inner();
    assert_eq!(refunded.status(), PaymentStatus::Refunded);
    assert_eq!(setup.balance(&account).await, 1_000);
}

#[tokio::test]
async fn a_refund_the_account_refuses_is_refused_again_on_retry() {
    let setup = fixture::start().await;
    let account = setup.funded_account("alice", "EUR", 1_000).await;
    let mut orders = setup.orders_for("alice");
    let paid = charge(&mut orders, charge_request(&account, 400, "c1"))
        .await
        .expect("charge");
    setup.freeze(&account).await;

    let refused = orders
        .refund(refund(&paid.payment_id, "r1"))
        .await
        .expect_err("frozen account");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(refused.message().contains("frozen"), "{refused:?}");
    let again = orders
        .refund(refund(&paid.payment_id, "r1"))
        .await
        .expect_err("replayed");
    assert_eq!(again.message(), refused.message());

    let payment = orders
        .get_payment(mesh_proto::payments::v1::GetPaymentRequest {
            payment_id: paid.payment_id.clone(),
        })
        .await
        .expect("read")
        .into_inner();
    assert_eq!(payment.status(), PaymentStatus::Captured);
    assert_eq!(setup.balance(&account).await, 600);
}

#[tokio::test]
async fn a_refund_cut_off_by_an_accounts_outage_is_finished_by_payments() {
    let mut setup = fixture::start_with(std::time::Duration::from_millis(100)).await;
    let account = setup.funded_account("alice", "EUR", 1_000).await;
    let paid = charge(
        &mut setup.orders_for("alice"),
        charge_request(&account, 400, "c1"),
    )
    .await
    .expect("charge");

    // A MANAGER's refund reaches payments while accounts is down, and the
    // MANAGER never retries.
    setup.stop_accounts().await;
    let manager = setup.token_with_scope("maria", &["MANAGER"], "payments:write");
    let mut staff = setup.payments_as("gateway", &manager);
    let cut_off = staff
        .refund(refund(&paid.payment_id, "r1"))
        .await
        .expect_err("accounts is down");
    assert_eq!(cut_off.code(), Code::Unavailable);

    // Once accounts is back, payments finishes the refund on its own.
    setup.restart_accounts().await;
    let get = mesh_proto::payments::v1::GetPaymentRequest {
        payment_id: paid.payment_id.clone(),
    };
    let refunded = mesh::testing::eventually(std::time::Duration::from_secs(20), || {
        let (mut staff, get) = (staff.clone(), get.clone());
        async move {
            let payment = staff.get_payment(get).await.ok()?.into_inner();
            (payment.status() == PaymentStatus::Refunded).then_some(payment)
        }
    })
    .await
    .expect("refunded within 20 s");
    assert_eq!(refunded.amount_minor, 400);
    assert_eq!(setup.balance(&account).await, 1_000);
    // The manager's retry, late, gets the same answer.
    let late = staff
        .refund(refund(&paid.payment_id, "r1"))
        .await
        .expect("replayed")
        .into_inner();
    assert_eq!(late.status(), PaymentStatus::Refunded);
}

#[tokio::test]
async fn case_50_a_refund_key_belongs_to_its_caller() {
    let setup = fixture::start().await;
    let account = setup.funded_account("alice", "EUR", 1_000).await;
    let mut orders = setup.orders_for("alice");
    let first = charge(&mut orders, charge_request(&account, 400, "c1"))
        .await
        .expect("charge");
    let second = charge(&mut orders, charge_request(&account, 100, "c2"))
        .await
        .expect("charge");

    // Staff take the key orders will use to cancel the first order...
    let maria = setup.token_with_scope("maria", &["MANAGER"], "payments:write");
    let mut staff = setup.payments_as("gateway", &maria);
    let squat = staff
        .refund(refund(&second.payment_id, "cancel-1"))
        .await
        .expect("staff refund")
        .into_inner();
    // ...which stays theirs: orders' refund under it is its own, and a
    // staff retry replays staff's answer.
    let cancelled = orders
        .refund(refund(&first.payment_id, "cancel-1"))
        .await
        .expect("orders' own key")
        .into_inner();
    assert_eq!(cancelled.status(), PaymentStatus::Refunded);
    let again = staff
        .refund(refund(&second.payment_id, "cancel-1"))
        .await
        .expect("staff retry")
        .into_inner();
    assert_eq!(again, squat);
    assert_eq!(setup.balance(&account).await, 1_000);
}
