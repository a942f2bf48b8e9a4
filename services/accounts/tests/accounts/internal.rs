//! Case 32: the internal RPCs (`Debit`, `Credit`) are reachable only by the
//! `payments` workload: any other peer, whatever its token, is denied
//! before the handler, and nothing is written.

use mesh::testing::{ClientCert, metric, raw_channel};
use mesh_proto::accounts::v1::{CreditRequest, accounts_client::AccountsClient};
use tonic::Code;

use crate::fixture::{self, balance, debit, deposit, ledger, open};

#[tokio::test]
async fn only_payments_may_debit_or_credit() {
    let setup = fixture::start().await;
    let mut alice = setup.user("alice");
    let account = open(&mut alice, "EUR").await;
    let id = account.account_id.as_str();
    deposit(&mut setup.manager(), id, 1_000, "d")
        .await
        .expect("deposit");
    let before = metric(
        &setup.metrics().await,
        "mesh_authz_denied_total",
        "reason=\"peer_not_allowed\"",
    );

    let admin = setup.admin_token("ada");
    for peer in ["gateway", "loadgen", "orders", "auth"] {
        let mut client = setup.client(peer, Some(&admin));
        let denied = debit(&mut client, id, 100, &format!("p-{peer}"))
            .await
            .expect_err("only payments may debit");
        assert_eq!(denied.code(), Code::PermissionDenied, "{peer}");
        let denied = client
            .credit(CreditRequest {
                account_id: id.to_owned(),
                amount_minor: 100,
                currency: "EUR".to_owned(),
                refund_id: format!("r-{peer}"),
            })
            .await
            .expect_err("only payments may credit");
        assert_eq!(denied.code(), Code::PermissionDenied, "{peer}");
    }
    let after = metric(
        &setup.metrics().await,
        "mesh_authz_denied_total",
        "reason=\"peer_not_allowed\"",
    );
    assert_eq!(after - before, 8.0);

    // Payments itself still needs a token, and a client without a
    // certificate gets nowhere.
    let denied = debit(&mut setup.client("payments", None), id, 100, "p-none")
        .await
        .expect_err("no token");
    assert_eq!(denied.code(), Code::Unauthenticated);
    let anonymous = raw_channel(
        &ClientCert::None,
        &setup.pki.dir().ca_cert(),
        setup.accounts.grpc_addr,
    );
    let mut anonymous = AccountsClient::new(anonymous);
    assert!(
        debit_raw(&mut anonymous, id).await.is_err(),
        "a client without a certificate was served"
    );

    assert_eq!(balance(&setup, id).await, 1_000);
    assert_eq!(ledger(&mut alice, id).await.len(), 1);

    // The same call from payments goes through.
    debit(&mut setup.payments("alice"), id, 100, "p-ok")
        .await
        .expect("payments debits");
    assert_eq!(balance(&setup, id).await, 900);
}

async fn debit_raw(
    client: &mut AccountsClient<tonic::transport::Channel>,
    id: &str,
) -> Result<(), tonic::Status> {
    client
        .debit(mesh_proto::accounts::v1::DebitRequest {
            account_id: id.to_owned(),
            amount_minor: 100,
            currency: "EUR".to_owned(),
            payment_id: "p-anonymous".to_owned(),
        })
        .await
        .map(drop)
}

#[tokio::test]
async fn case_47_a_debit_pays_only_from_the_token_subjects_account() {
    let setup = fixture::start().await;
    let account = open(&mut setup.user("alice"), "EUR").await;
    let id = account.account_id.as_str();
    deposit(&mut setup.manager(), id, 1_000, "d")
        .await
        .expect("deposit");

    // Payments carrying a MANAGER's token (who may read the account) or
    // bob's: refused like a missing account, and the refusal is kept.
    let maria = setup.token("maria", &["MANAGER"]);
    for mut payments in [
        setup.client("payments", Some(&maria)),
        setup.payments("bob"),
    ] {
        let refused = debit(&mut payments, id, 100, "p-1")
            .await
            .expect_err("not the subject's account");
        assert_eq!(refused.code(), Code::NotFound, "{refused:?}");
    }
    assert_eq!(balance(&setup, id).await, 1_000);

    // The owner's token pays; so does a workload's own token, which
    // finishes a charge its owner authorized (payments' or orders' resumer).
    debit(&mut setup.payments("alice"), id, 100, "p-2")
        .await
        .expect("alice's own account");
    let resumer = setup.token("spiffe://mesh.local/orders", &[]);
    debit(
        &mut setup.client("payments", Some(&resumer)),
        id,
        100,
        "p-3",
    )
    .await
    .expect("a resumed charge");
    assert_eq!(balance(&setup, id).await, 800);
}
