//! Case 29 for payments: a USER reads only payments from their own
//! accounts; another user's payment is NOT_FOUND, exactly like a missing
//! one; staff read all.

use mesh_proto::payments::v1::{GetPaymentRequest, ListPaymentsRequest};
use tonic::Code;

use crate::fixture::{self, charge, charge_request};

#[tokio::test]
async fn a_user_sees_only_their_own_payments() {
    let setup = fixture::start().await;
    let alices = setup.funded_account("alice", "EUR", 1_000).await;
    let bobs = setup.funded_account("bob", "EUR", 1_000).await;
    let paid = charge(
        &mut setup.orders_for("alice"),
        charge_request(&alices, 100, "a1"),
    )
    .await
    .expect("charge");
    charge(
        &mut setup.orders_for("bob"),
        charge_request(&bobs, 100, "b1"),
    )
    .await
    .expect("charge");

    let mut bob = setup.payments_as("gateway", &setup.token("bob", &["USER"]));
    let get = |id: &str| GetPaymentRequest {
        payment_id: id.to_owned(),
    };
    let theirs = bob
        .get_payment(get(&paid.payment_id))
        .await
        .expect_err("alice's payment");
    let missing = bob
        .get_payment(get(&uuid::Uuid::now_v7().to_string()))
        .await
        .expect_err("no such payment");
    assert_eq!(theirs.code(), Code::NotFound);
    assert_eq!(
        (theirs.code(), theirs.message()),
        (missing.code(), missing.message())
    );
    let listed = bob
        .list_payments(ListPaymentsRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.payments.len(), 1);
    assert!(listed.payments.iter().all(|p| p.owner == "bob"));

    let mut alice = setup.payments_as("gateway", &setup.token("alice", &["USER"]));
    let own = alice
        .get_payment(get(&paid.payment_id))
        .await
        .expect("her own")
        .into_inner();
    assert_eq!(own, paid);

    let mut manager = setup.payments_as("gateway", &setup.token("maria", &["MANAGER"]));
    let all = manager
        .list_payments(ListPaymentsRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert_eq!(all.payments.len(), 2);
}
