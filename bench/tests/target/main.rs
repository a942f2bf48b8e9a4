//! `bench-target` served for real on 127.0.0.1:0 in each mode: the right
//! callers get the account, and each mode checks what it claims to check.

use std::time::Duration;

use mesh::testing::{TestPki, eventually, plaintext_channel, start_key_server};
use mesh_bench::{BENCH_ACCOUNT_ID, Mode, ServeArgs, Target};
use mesh_proto::accounts::v1::{GetAccountRequest, accounts_client::AccountsClient};
use tokio_util::sync::CancellationToken;
use tonic::Code;

/// Starts the target in `mode` with `mesh` flags; stops when `stop` is cancelled.
async fn spawn(
    mode: Mode,
    mesh: mesh::ServerArgs,
    stop: &CancellationToken,
) -> std::net::SocketAddr {
    let target = Target::start(ServeArgs { mode, mesh })
        .await
        .expect("start");
    let addr = target.grpc_addr().expect("bound");
    let stop = stop.clone();
    tokio::spawn(target.serve(async move { stop.cancelled().await }));
    addr
}

fn request() -> GetAccountRequest {
    GetAccountRequest {
        account_id: BENCH_ACCOUNT_ID.to_owned(),
    }
}

#[tokio::test]
async fn plaintext_serves_h2c_with_no_credentials() {
    let pki = TestPki::new();
    let stop = CancellationToken::new();
    let addr = spawn(Mode::Plaintext, pki.server_args("accounts"), &stop).await;
    let mut client = AccountsClient::new(plaintext_channel(addr));
    let account = client.get_account(request()).await.expect("plaintext call");
    assert_eq!(account.into_inner().account_id, BENCH_ACCOUNT_ID);
    stop.cancel();
}

#[tokio::test]
async fn mtls_admits_loadgen_and_gateway_and_denies_other_workloads() {
    let pki = TestPki::new();
    let stop = CancellationToken::new();
    let addr = spawn(Mode::Mtls, pki.server_args("accounts"), &stop).await;
    for peer in ["loadgen", "gateway"] {
        let mut client = AccountsClient::new(pki.authed_channel(peer, None, addr));
        client.get_account(request()).await.expect(peer);
    }
    let mut orders = AccountsClient::new(pki.authed_channel("orders", None, addr));
    let denied = orders.get_account(request()).await.expect_err("refused");
    assert_eq!(denied.code(), Code::PermissionDenied);
    // And there is no plaintext way in.
    let mut plain = AccountsClient::new(plaintext_channel(addr));
    assert!(plain.get_account(request()).await.is_err());
    stop.cancel();
}

#[tokio::test]
async fn jwt_modes_need_a_valid_token_with_the_read_scope() {
    let pki = TestPki::new();
    let (auth, keys) = start_key_server(&pki).await;
    let stop = CancellationToken::new();
    let good = keys
        .issuer
        .token("es-1", &keys.issuer.claims("alice", &["accounts"]));
    let elsewhere = keys
        .issuer
        .token("es-1", &keys.issuer.claims("alice", &["orders"]));
    for mode in [Mode::MtlsJwtUncached, Mode::MtlsJwt] {
        let addr = spawn(mode, pki.service_args("accounts", &auth), &stop).await;
        let mut client = AccountsClient::new(pki.authed_channel("loadgen", Some(&good), addr));
        // The first calls may come before the key set does.
        let served = eventually(Duration::from_secs(10), || {
            let mut client = client.clone();
            async move { client.get_account(request()).await.ok() }
        })
        .await;
        assert!(served.is_some(), "{mode:?}: a good token is served");
        client.get_account(request()).await.expect("again");

        let mut none = AccountsClient::new(pki.authed_channel("loadgen", None, addr));
        let missing = none.get_account(request()).await.expect_err("refused");
        assert_eq!(missing.code(), Code::Unauthenticated, "{mode:?}");
        let mut wrong = AccountsClient::new(pki.authed_channel("loadgen", Some(&elsewhere), addr));
        let audience = wrong.get_account(request()).await.expect_err("refused");
        assert_eq!(audience.code(), Code::Unauthenticated, "{mode:?}");
    }
    stop.cancel();
}
