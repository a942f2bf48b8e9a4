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
