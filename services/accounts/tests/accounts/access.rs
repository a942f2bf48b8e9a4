//! Object-level and role checks: case 29 (another user's account), case 30
//! (USER calling MANAGER or ADMIN operations directly on the service) and
//! case 31 (server-owned fields sent by the client).

use mesh::testing::metric;
use mesh_proto::accounts::v1::{
    Account, AccountStatus, FreezeAccountRequest, ListAccountsRequest, ListLedgerEntriesRequest,
};
use tonic::Code;

use crate::fixture::{self, balance, deposit, get, ledger, open};

#[tokio::test]
async fn another_users_account_is_not_found_and_never_leaked() {
    let setup = fixture::start().await;
    let mut alice = setup.user("alice");
    let mut bob = setup.user("bob");
    let account = open(&mut alice, "EUR").await;
    deposit(&mut setup.manager(), &account.account_id, 1_000, "d1")
        .await
        .expect("deposit");

    // Bob gets exactly what he would get for an id that does not exist.
    let theirs = get(&mut bob, &account.account_id)
        .await
        .expect_err("bob must not read alice's account");
    let missing = get(&mut bob, &uuid::Uuid::now_v7().to_string())
        .await
        .expect_err("no such account");
    assert_eq!(theirs.code(), Code::NotFound);
    assert_eq!(
        (theirs.code(), theirs.message()),
        (missing.code(), missing.message())
    );
    let ledger = bob
        .list_ledger_entries(ListLedgerEntriesRequest {
            account_id: account.account_id.clone(),
            ..Default::default()
        })
        .await
        .expect_err("bob must not read alice's ledger");
    assert_eq!(ledger.code(), Code::NotFound);

    // His list holds only his own, and he may not ask for hers.
    let own = bob
        .list_accounts(ListAccountsRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert!(own.accounts.is_empty());
    let filtered = bob
        .list_accounts(ListAccountsRequest {
            owner: "alice".to_owned(),
            ..Default::default()
        })
        .await
        .expect_err("a USER may not list another owner's accounts");
    assert_eq!(filtered.code(), Code::PermissionDenied);

    // Alice and the staff see it, with its balance.
    assert_eq!(
        get(&mut alice, &account.account_id)
            .await
            .expect("alice reads her account")
            .balance_minor,
        1_000
    );
    let by_owner = setup
        .manager()
        .list_accounts(ListAccountsRequest {
            owner: "alice".to_owned(),
            ..Default::default()
        })
        .await
        .expect("a MANAGER lists by owner")
        .into_inner();
    assert_eq!(
        by_owner.accounts,
        vec![Account {
            balance_minor: 1_000,
            ..account
        }]
    );
}

#[tokio::test]
async fn a_user_calling_staff_operations_directly_is_denied() {
    let setup = fixture::start().await;
    let mut alice = setup.user("alice");
    let account = open(&mut alice, "EUR").await;
    let before = metric(
        &setup.metrics().await,
        "mesh_authz_denied_total",
        "method=\"/accounts.v1.Accounts/",
    );

    // A USER cannot deposit, not even into her own account, from any peer.
    for peer in ["gateway", "loadgen"] {
        let mut direct = setup.client(peer, Some(&setup.token("alice", &["USER"])));
        let denied = deposit(&mut direct, &account.account_id, 500, "mine")
            .await
            .expect_err("USER deposit");
        assert_eq!(denied.code(), Code::PermissionDenied, "{peer}");
    }

    // Freezing is for ADMIN with scope `admin`: not USER, not MANAGER,
    // not an ADMIN token without the scope.
    let freeze = |id: &str| FreezeAccountRequest {
        account_id: id.to_owned(),
        reason: "test".to_owned(),
    };
    let admin_without_scope = setup.token("ada", &["ADMIN"]);
    for mut client in [
        alice.clone(),
        setup.manager(),
        setup.client("gateway", Some(&admin_without_scope)),
    ] {
        let denied = client
            .freeze_account(freeze(&account.account_id))
            .await
            .expect_err("not allowed to freeze");
        assert_eq!(denied.code(), Code::PermissionDenied);
    }
    let after = metric(
        &setup.metrics().await,
        "mesh_authz_denied_total",
        "method=\"/accounts.v1.Accounts/",
    );
    assert_eq!(after - before, 5.0, "each denial is counted");

    // Nothing was written by any of the refused calls.
    assert_eq!(balance(&setup, &account.account_id).await, 0);
    assert!(ledger(&mut alice, &account.account_id).await.is_empty());
    assert_eq!(
        get(&mut alice, &account.account_id)
            .await
            .expect("read")
            .status(),
        AccountStatus::Active
    );

    let mut admin = setup.client("gateway", Some(&setup.admin_token("ada")));
    let frozen = admin
        .freeze_account(freeze(&account.account_id))
        .await
        .expect("an ADMIN freezes")
        .into_inner();
    assert_eq!(frozen.status(), AccountStatus::Frozen);
}

/// `OpenAccountRequest` as a client that also sends the server-owned
/// fields of `Account` (owner, balance, status) under their field numbers.
#[derive(Clone, PartialEq, prost::Message)]
struct OpenAccountWithServerFields {
    #[prost(string, tag = "1")]
    currency: String,
    #[prost(string, tag = "2")]
    owner: String,
    #[prost(int64, tag = "4")]
    balance_minor: i64,
    #[prost(int32, tag = "5")]
    status: i32,
}

#[tokio::test]
async fn server_owned_fields_sent_by_a_client_are_ignored() {
    let setup = fixture::start().await;
    let channel = mesh::testing::raw_channel(
        &(&setup.pki.files("gateway")).into(),
        &setup.pki.dir().ca_cert(),
        setup.accounts.grpc_addr,
    );
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("channel ready");
    let mut request = tonic::Request::new(OpenAccountWithServerFields {
        currency: "EUR".to_owned(),
        owner: "mallory-victim".to_owned(),
        balance_minor: 1_000_000,
        status: AccountStatus::Active as i32,
    });
    let token = setup.token("mallory", &["USER"]);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("header"),
    );
    let account: Account = grpc
        .unary(
            request,
            http::uri::PathAndQuery::from_static("/accounts.v1.Accounts/OpenAccount"),
            tonic_prost::ProstCodec::<OpenAccountWithServerFields, Account>::default(),
        )
        .await
        .expect("open account")
        .into_inner();
    assert_eq!(account.owner, "mallory");
    assert_eq!(account.balance_minor, 0);
    assert_eq!(balance(&setup, &account.account_id).await, 0);
    let victims = setup
        .manager()
        .list_accounts(ListAccountsRequest {
            owner: "mallory-victim".to_owned(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    assert!(victims.accounts.is_empty());
}
