//! Moving money: case 39 (zero, negative, overflowing and wrong-currency
//! amounts are rejected with nothing written) and case 41 (a retried
//! request has one effect and gets the first answer; the same key with a
//! different request is refused), plus frozen accounts.

use mesh_proto::accounts::v1::{
    CreditRequest, DebitRequest, DepositRequest, EntryKind, FreezeAccountRequest,
    OpenAccountRequest,
};
use tonic::Code;

use crate::fixture::{self, balance, debit, deposit, ledger, open};

#[tokio::test]
async fn bad_amounts_and_currencies_are_rejected_with_nothing_written() {
    let setup = fixture::start().await;
    let mut alice = setup.user("alice");
    let mut manager = setup.manager();
    let mut payments = setup.payments("alice");
    for currency in ["", "eur", "EURO", "€"] {
        let refused = alice
            .open_account(OpenAccountRequest {
                currency: currency.to_owned(),
            })
            .await
            .expect_err("bad currency");
        assert_eq!(refused.code(), Code::InvalidArgument, "{currency:?}");
    }
    let account = open(&mut alice, "EUR").await;
    let id = account.account_id.as_str();

    for amount in [0, -1, i64::MIN] {
        let refused = deposit(&mut manager, id, amount, &format!("bad-{amount}"))
            .await
            .expect_err("non-positive deposit");
        assert_eq!(refused.code(), Code::InvalidArgument);
        let refused = debit(&mut payments, id, amount, &format!("pay-{amount}"))
            .await
            .expect_err("non-positive debit");
        assert_eq!(refused.code(), Code::InvalidArgument);
    }
    let foreign = manager
        .deposit(DepositRequest {
            account_id: id.to_owned(),
            amount_minor: 100,
            currency: "USD".to_owned(),
            idempotency_key: "usd".to_owned(),
        })
        .await
        .expect_err("wrong currency");
    assert_eq!(foreign.code(), Code::FailedPrecondition);
    assert!(foreign.message().contains("currency"), "{foreign:?}");

    deposit(&mut manager, id, 1, "one").await.expect("deposit");
    let overflow = deposit(&mut manager, id, i64::MAX, "max")
        .await
        .expect_err("the balance would overflow");
    assert_eq!(overflow.code(), Code::FailedPrecondition);

    assert_eq!(balance(&setup, id).await, 1);
    assert_eq!(ledger(&mut alice, id).await.len(), 1);
    // A refused deposit leaves its key free for a corrected request.
    deposit(&mut manager, id, 100, "usd")
        .await
        .expect("the key of a refused deposit is unused");
}

#[tokio::test]
async fn a_retried_deposit_has_one_effect_and_a_reused_key_is_refused() {
    let setup = fixture::start().await;
    let mut alice = setup.user("alice");
    let mut manager = setup.manager();
    let first = open(&mut alice, "EUR").await;
    let second = open(&mut alice, "EUR").await;

    let entry = deposit(&mut manager, &first.account_id, 500, "k1")
        .await
        .expect("deposit");
    let again = deposit(&mut manager, &first.account_id, 500, "k1")
        .await
        .expect("retry");
    assert_eq!(again, entry, "the retry replays the first answer");
    assert_eq!(entry.kind(), EntryKind::Deposit);
    assert_eq!(entry.balance_after_minor, 500);

    for (account, amount) in [(&first, 600), (&second, 500)] {
        let reused = deposit(&mut manager, &account.account_id, amount, "k1")
            .await
            .expect_err("same key, different request");
        assert_eq!(reused.code(), Code::AlreadyExists);
        assert!(reused.message().contains("idempotency_key"), "{reused:?}");
    }
    assert_eq!(balance(&setup, &first.account_id).await, 500);
    assert_eq!(balance(&setup, &second.account_id).await, 0);
    assert_eq!(ledger(&mut alice, &first.account_id).await.len(), 1);
}

#[tokio::test]
async fn debits_and_credits_are_idempotent_per_payment_and_refund() {
    let setup = fixture::start().await;
    let mut alice = setup.user("alice");
    let mut payments = setup.payments("alice");
    let account = open(&mut alice, "EUR").await;
    let id = account.account_id.as_str();
    deposit(&mut setup.manager(), id, 1_000, "d")
        .await
        .expect("deposit");

    let taken = debit(&mut payments, id, 300, "p1").await.expect("debit");
    assert_eq!((taken.amount_minor, taken.balance_after_minor), (-300, 700));
    assert_eq!(
        debit(&mut payments, id, 300, "p1").await.expect("retry"),
        taken
    );
    let reused = debit(&mut payments, id, 301, "p1")
        .await
        .expect_err("same payment id, other amount");
    assert_eq!(reused.code(), Code::AlreadyExists);

    let credit = CreditRequest {
        account_id: id.to_owned(),
        amount_minor: 300,
        currency: "EUR".to_owned(),
        refund_id: "r1".to_owned(),
    };
    let back = payments
        .credit(credit.clone())
        .await
        .expect("credit")
        .into_inner();
    assert_eq!(back.balance_after_minor, 1_000);
    let again = payments.credit(credit).await.expect("retry").into_inner();
    assert_eq!(again, back);

    assert_eq!(balance(&setup, id).await, 1_000);
    let entries = ledger(&mut alice, id).await;
    let kinds: Vec<EntryKind> = entries.iter().map(|e| e.kind()).collect();
    assert_eq!(
        kinds,
        [EntryKind::Credit, EntryKind::Debit, EntryKind::Deposit],
        "newest first"
    );
    assert_eq!(entries.iter().map(|e| e.amount_minor).sum::<i64>(), 1_000);
}

#[tokio::test]
async fn a_refused_debit_stays_refused_for_its_payment() {
    let setup = fixture::start().await;
    let mut alice = setup.user("alice");
    let mut payments = setup.payments("alice");
    let account = open(&mut alice, "EUR").await;
    let id = account.account_id.as_str();

    let refused = debit(&mut payments, id, 500, "p1")
        .await
        .expect_err("insufficient funds");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(refused.message().contains("insufficient funds"));

    // Money arrives, but the payment was decided: a late retry of the same
    // payment must not take it (payments already declined that charge).
    deposit(&mut setup.manager(), id, 1_000, "d")
        .await
        .expect("deposit");
    let replayed = debit(&mut payments, id, 500, "p1")
        .await
        .expect_err("the refusal is replayed");
    assert_eq!(
        (replayed.code(), replayed.message()),
        (refused.code(), refused.message())
    );
    debit(&mut payments, id, 500, "p2")
        .await
        .expect("a new payment is debited");
    assert_eq!(balance(&setup, id).await, 500);
}

#[tokio::test]
async fn a_frozen_account_refuses_every_money_movement() {
    let setup = fixture::start().await;
    let mut alice = setup.user("alice");
    let mut manager = setup.manager();
    let mut payments = setup.payments("alice");
    let account = open(&mut alice, "EUR").await;
    let id = account.account_id.as_str();
    deposit(&mut manager, id, 1_000, "d")
        .await
        .expect("deposit");
    setup
        .client("gateway", Some(&setup.admin_token("ada")))
        .freeze_account(FreezeAccountRequest {
            account_id: id.to_owned(),
            reason: "fraud review".to_owned(),
        })
        .await
        .expect("freeze");

    let refusals = [
        deposit(&mut manager, id, 1, "d2").await.map(drop),
        debit(&mut payments, id, 1, "p").await.map(drop),
        payments
            .credit(CreditRequest {
                account_id: id.to_owned(),
                amount_minor: 1,
                currency: "EUR".to_owned(),
                refund_id: "r".to_owned(),
            })
            .await
            .map(drop),
    ];
    for refused in refusals {
        let status = refused.expect_err("frozen");
        assert_eq!(status.code(), Code::FailedPrecondition);
        assert!(status.message().contains("frozen"), "{status:?}");
    }
    assert_eq!(balance(&setup, id).await, 1_000);
    assert_eq!(ledger(&mut alice, id).await.len(), 1);
}

#[tokio::test]
async fn unknown_accounts_and_malformed_ids_are_refused() {
    let setup = fixture::start().await;
    let mut payments = setup.payments("alice");
    let unknown = uuid::Uuid::now_v7().to_string();
    let missing = debit(&mut payments, &unknown, 5, "p")
        .await
        .expect_err("no such account");
    assert_eq!(missing.code(), Code::NotFound);
    let malformed = payments
        .debit(DebitRequest {
            account_id: "../../etc/passwd".to_owned(),
            amount_minor: 5,
            currency: "EUR".to_owned(),
            payment_id: "p".to_owned(),
        })
        .await
        .expect_err("not an id");
    assert_eq!(malformed.code(), Code::InvalidArgument);
}
