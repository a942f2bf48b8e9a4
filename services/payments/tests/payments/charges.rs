//! Charges: case 41 (one effect per key, the first answer replayed, a
//! reused key refused, a request in flight ABORTED), case 39 (bad amounts
//! and currencies), case 29 (charging someone else's account), case 32
//! (only `orders` may charge), and declines that are answers, not errors.

use mesh_proto::payments::v1::{
    ListPaymentsRequest, PaymentStatus, payments_client::PaymentsClient,
};
use tokio::net::TcpListener;
use tonic::Code;

use crate::fixture::{self, charge, charge_request, start_payments};

#[tokio::test]
async fn a_charge_debits_once_per_key() {
    let setup = fixture::start().await;
    let account = setup.funded_account("alice", "EUR", 1_000).await;
    let mut orders = setup.orders_for("alice");

    let payment = charge(&mut orders, charge_request(&account, 300, "k1"))
        .await
        .expect("charge");
    assert_eq!(payment.status(), PaymentStatus::Captured);
    assert_eq!(payment.owner, "alice");
    let again = charge(&mut orders, charge_request(&account, 300, "k1"))
        .await
        .expect("retry");
    assert_eq!(again, payment, "the retry replays the first answer");

    let reused = charge(&mut orders, charge_request(&account, 301, "k1"))
        .await
        .expect_err("same key, different amount");
    assert_eq!(reused.code(), Code::AlreadyExists);

    assert_eq!(setup.balance(&account).await, 700);
    let debits: Vec<_> = setup
        .ledger(&account)
        .await
        .into_iter()
        .filter(|e| e.amount_minor < 0)
        .collect();
    assert_eq!(debits.len(), 1);
    assert_eq!(debits[0].reference, payment.payment_id);
}

#[tokio::test]
async fn a_charge_the_account_cannot_pay_is_declined_and_stays_declined() {
    let setup = fixture::start().await;
    let account = setup.funded_account("alice", "EUR", 100).await;
    let mut orders = setup.orders_for("alice");

    let declined = charge(&mut orders, charge_request(&account, 500, "k1"))
        .await
        .expect("a decline is an answer, not an error");
    assert_eq!(declined.status(), PaymentStatus::Declined);
    assert_eq!(declined.decline_reason, "insufficient funds");

    // More money arrives; the charge was decided and stays so.
    setup
        .accounts_as(&setup.token("maria", &["MANAGER"]))
        .deposit(mesh_proto::accounts::v1::DepositRequest {
            account_id: account.clone(),
            amount_minor: 1_000,
            currency: "EUR".to_owned(),
            idempotency_key: "more".to_owned(),
        })
        .await
        .expect("deposit");
    let again = charge(&mut orders, charge_request(&account, 500, "k1"))
        .await
        .expect("retry");
    assert_eq!(again, declined);

    setup.freeze(&account).await;
    let frozen = charge(&mut orders, charge_request(&account, 10, "k2"))
        .await
        .expect("declined");
    assert_eq!(frozen.status(), PaymentStatus::Declined);
    assert!(frozen.decline_reason.contains("frozen"));
    assert_eq!(setup.balance(&account).await, 1_100);
}

#[tokio::test]
async fn bad_amounts_and_currencies_move_nothing() {
    let setup = fixture::start().await;
    let account = setup.funded_account("alice", "EUR", 1_000).await;
    let mut orders = setup.orders_for("alice");
    for amount in [0, -1, i64::MIN] {
        let refused = charge(&mut orders, charge_request(&account, amount, "k"))
            .await
            .expect_err("non-positive amount");
        assert_eq!(refused.code(), Code::InvalidArgument);
    }
    let mut lower = charge_request(&account, 10, "k");
    lower.currency = "eur".to_owned();
    let refused = charge(&mut orders, lower).await.expect_err("bad currency");
    assert_eq!(refused.code(), Code::InvalidArgument);

    let staff = setup.token_with_scope("maria", &["MANAGER"], "payments:read");
    let listed = setup
        .payments_as("gateway", &staff)
        .list_payments(ListPaymentsRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert!(listed.payments.is_empty(), "nothing was recorded");

    // A currency that is valid but not the account's: declined, no money moved.
    let mut usd = charge_request(&account, 10, "usd");
    usd.currency = "USD".to_owned();
    let declined = charge(&mut orders, usd).await.expect("declined");
    assert_eq!(declined.status(), PaymentStatus::Declined);
    assert!(declined.decline_reason.contains("EUR"), "{declined:?}");
    assert_eq!(setup.balance(&account).await, 1_000);
    assert_eq!(setup.ledger(&account).await.len(), 1);
}

#[tokio::test]
async fn charging_someone_elses_account_is_declined_without_leaking_it() {
    let setup = fixture::start().await;
    let bobs = setup.funded_account("bob", "EUR", 1_000).await;

    // Alice's token cannot pay from Bob's account ...
    let declined = charge(
        &mut setup.orders_for("alice"),
        charge_request(&bobs, 300, "k1"),
    )
    .await
    .expect("declined");
    assert_eq!(declined.status(), PaymentStatus::Declined);
    assert_eq!(
        declined.owner, "alice",
        "the account's owner is not revealed"
    );
    // ... nor can a workload's own token start a charge: it owns nothing.
    let workload = setup.orders_workload_token();
    let declined = charge(
        &mut setup.payments_as("orders", &workload),
        charge_request(&bobs, 300, "k2"),
    )
    .await
    .expect("declined");
    assert_eq!(declined.status(), PaymentStatus::Declined);

    assert_eq!(setup.balance(&bobs).await, 1_000);
    let bob_sees = setup
        .payments_as("gateway", &setup.token("bob", &["USER"]))
        .list_payments(ListPaymentsRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert!(bob_sees.payments.is_empty());
}

#[tokio::test]
async fn a_workload_token_finishes_a_charge_a_user_started() {
    let setup = fixture::start().await;
    let account = setup.funded_account("alice", "EUR", 1_000).await;
    let first = charge(
        &mut setup.orders_for("alice"),
        charge_request(&account, 250, "k1"),
    )
    .await
    .expect("charge");
    // `orders` resuming after a restart asks again with its own token and
    // gets the recorded answer.
    let workload = setup.orders_workload_token();
    let resumed = charge(
        &mut setup.payments_as("orders", &workload),
        charge_request(&account, 250, "k1"),
    )
    .await
    .expect("resume");
    assert_eq!(resumed, first);
    assert_eq!(setup.balance(&account).await, 750);
}

#[tokio::test]
async fn only_orders_may_charge() {
    let setup = fixture::start().await;
    let account = setup.funded_account("alice", "EUR", 1_000).await;
    let admin = setup.token_with_scope("ada", &["ADMIN"], "admin payments:write");
    for peer in ["gateway", "loadgen", "accounts", "payments"] {
        let refused = charge(
            &mut setup.payments_as(peer, &admin),
            charge_request(&account, 100, &format!("k-{peer}")),
        )
        .await
        .expect_err("only orders may charge");
        assert_eq!(refused.code(), Code::PermissionDenied, "{peer}");
    }
    assert_eq!(setup.balance(&account).await, 1_000);
}

#[tokio::test]
async fn a_charge_still_in_flight_gets_aborted() {
    let setup = fixture::start().await;
    let account = setup.funded_account("alice", "EUR", 1_000).await;
    // Payments whose accounts never answers: a charge stays in flight.
    let blackhole = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let data = tempfile::tempdir().expect("temp dir");
    let stuck = start_payments(
        &setup.pki,
        &setup.auth,
        &data,
        &blackhole.local_addr().expect("addr").to_string(),
        std::time::Duration::from_secs(3600),
    )
    .await;
    let token = setup.token("alice", &["USER"]);
    let client =
        |token: &str| PaymentsClient::new(setup.channel("orders", Some(token), stuck.grpc_addr));
    let mut first = client(&token);
    let mut request = tonic::Request::new(charge_request(&account, 100, "k1"));
    request.set_timeout(std::time::Duration::from_secs(2));
    let first = tokio::spawn(async move { first.charge(request).await });

    // Once payments dials accounts, the first charge holds its key.
    let _held = blackhole.accept().await.expect("payments dials accounts");
    let aborted = charge(&mut client(&token), charge_request(&account, 100, "k1"))
        .await
        .expect_err("the same key is in flight");
    assert_eq!(aborted.code(), Code::Aborted);

    let first = first
        .await
        .expect("join")
        .expect_err("accounts never answered");
    assert!(
        matches!(
            first.code(),
            Code::DeadlineExceeded | Code::Cancelled | Code::Unavailable
        ),
        "{first:?}"
    );
    assert_eq!(setup.balance(&account).await, 1_000);
}

#[tokio::test]
async fn case_47_staff_cannot_charge_a_customers_account() {
    let setup = fixture::start().await;
    let account = setup.funded_account("alice", "EUR", 1_000).await;
    let mut staff = setup.payments_as("orders", &setup.token("maria", &["MANAGER"]));

    // Asked first (validate_only): refused like a missing account.
    let mut check = charge_request(&account, 300, "k1");
    check.validate_only = true;
    let refused = charge(&mut staff, check.clone())
        .await
        .expect_err("not maria's account");
    let mut missing = check.clone();
    missing.account_id = uuid::Uuid::now_v7().to_string();
    let missing = charge(&mut staff, missing).await.expect_err("no account");
    assert_eq!(refused.code(), Code::NotFound);
    assert_eq!(
        (refused.code(), refused.message()),
        (missing.code(), missing.message())
    );
    // Charged anyway: declined, and no money moves.
    let declined = charge(&mut staff, charge_request(&account, 300, "k1"))
        .await
        .expect("a decline is an answer");
    assert_eq!(declined.status(), PaymentStatus::Declined);
    assert_eq!(declined.owner, "maria", "{declined:?} leaks the owner");
    assert_eq!(setup.balance(&account).await, 1_000);
    let metrics = mesh::testing::http_get(setup.payments.admin_addr, "/metrics")
        .await
        .1;
    let denied = mesh::testing::metric(&metrics, "mesh_authz_denied_total", "not_owner");
    assert_eq!(denied, 2.0, "each attempt is counted");

    // The owner's check passes and records nothing; her charge is captured.
    let mut alice = setup.orders_for("alice");
    let checked = charge(&mut alice, check).await.expect("alice's account");
    assert_eq!(
        (checked.payment_id.as_str(), checked.owner.as_str()),
        ("", "alice")
    );
    let paid = charge(&mut alice, charge_request(&account, 300, "k2"))
        .await
        .expect("charge");
    assert_eq!(paid.status(), PaymentStatus::Captured);
    assert_eq!(setup.balance(&account).await, 700);
}
