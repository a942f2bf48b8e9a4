//! Case 52: load-test identities (`loadgen`) have no access unless load
//! testing is switched on explicitly (`--load-test-peer loadgen`), so by
//! default nothing reaches a public RPC around the gateway's limits.

use tonic::Code;

use crate::fixture::{self, Setup, get, open};

/// Alice's account, read as workload `loadgen` with alice's own token.
async fn read_as_loadgen(setup: &Setup) -> Result<(), tonic::Status> {
    let account = open(&mut setup.user("alice"), "EUR").await;
    let token = setup.token("alice", &["USER"]);
    let mut loadgen = setup.client("loadgen", Some(&token));
    get(&mut loadgen, &account.account_id).await.map(drop)
}

#[tokio::test]
async fn case_52_loadgen_is_denied_unless_load_testing_is_on() {
    let setup = fixture::start().await;
    let denied = read_as_loadgen(&setup)
        .await
        .expect_err("loadgen is no client by default");
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
}

#[tokio::test]
async fn case_52_loadgen_is_served_when_load_testing_is_switched_on() {
    let setup = fixture::start_with(|args| args.load_test_peers = vec!["loadgen".to_owned()]).await;
    read_as_loadgen(&setup)
        .await
        .expect("--load-test-peer loadgen admits it to public RPCs");
    // Still only public RPCs: money moves only for payments.
    let mut loadgen = setup.client("loadgen", Some(&setup.admin_token("ada")));
    let account = open(&mut setup.user("alice"), "EUR").await;
    let denied = fixture::debit(&mut loadgen, &account.account_id, 1, "p-1")
        .await
        .expect_err("Debit is internal");
    assert_eq!(denied.code(), Code::PermissionDenied);
}
