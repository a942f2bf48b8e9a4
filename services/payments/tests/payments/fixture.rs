//! Accounts and payments servers with their key server, and clients that
//! call them as any workload with any token.

use std::{net::SocketAddr, time::Duration};

use mesh::testing::{Authed, KeyServer, Running, TestPki, spawn_service, start_key_server};
use mesh_proto::{
    accounts::v1::{
        DepositRequest, FreezeAccountRequest, GetAccountRequest, LedgerEntry,
        ListLedgerEntriesRequest, OpenAccountRequest, accounts_client::AccountsClient,
    },
    payments::v1::{ChargeRequest, Payment, payments_client::PaymentsClient},
};
use serde_json::{Value, json};
use tonic::Status;

/// The servers of one test and what they need.
pub(crate) struct Setup {
    pub(crate) pki: TestPki,
    pub(crate) keys: KeyServer,
    pub(crate) auth: Running,
    /// `None` while a test has it stopped.
    pub(crate) accounts: Option<Running>,
    pub(crate) accounts_addr: SocketAddr,
    pub(crate) payments: Running,
    data: tempfile::TempDir,
}

/// How often the payments of most tests look for unfinished work: at
/// start-up only, during a test.
const RESUME_RARELY: Duration = Duration::from_secs(3600);

/// Starts the key server, accounts, and payments calling that accounts.
pub(crate) async fn start() -> Setup {
    start_with(RESUME_RARELY).await
}

/// [`start`] with payments resuming unfinished work every `interval`.
pub(crate) async fn start_with(interval: Duration) -> Setup {
    let pki = TestPki::new();
    let (auth, keys) = start_key_server(&pki).await;
    let data = tempfile::tempdir().expect("temp dir");
    let accounts = start_accounts(&pki, &auth, &data, None).await;
    let accounts_addr = accounts.grpc_addr;
    let payments = start_payments(&pki, &auth, &data, &accounts_addr.to_string(), interval).await;
    Setup {
        pki,
        keys,
        auth,
        accounts: Some(accounts),
        accounts_addr,
        payments,
        data,
    }
}

async fn start_accounts(
    pki: &TestPki,
    auth: &Running,
    data: &tempfile::TempDir,
    listen: Option<SocketAddr>,
) -> Running {
    let mut args = pki.service_args("accounts", auth);
    if listen.is_some() {
        args.listen = listen;
    }
    let domain = accounts::AccountsArgs {
        data_dir: data.path().join("accounts"),
    };
    spawn_service(mesh::ACCOUNTS, args, async |server| {
        accounts::service(server, domain).await
    })
    .await
}

/// Starts a payments server calling accounts at `accounts_addr`, resuming
/// unfinished work every `interval` (and at once, however young).
pub(crate) async fn start_payments(
    pki: &TestPki,
    auth: &Running,
    data: &tempfile::TempDir,
    accounts_addr: &str,
    interval: Duration,
) -> Running {
    let args = pki.service_args("payments", auth);
    spawn_service(mesh::PAYMENTS, args, async |server| {
        let domain = payments::PaymentsArgs {
            data_dir: data
                .path()
                .join(format!("payments-{}", server.grpc_addr().port())),
            accounts_addr: accounts_addr.to_owned(),
            resume_interval: interval,
            resume_after: Duration::ZERO,
        };
        payments::service(server, domain).await
    })
    .await
}

impl Setup {
    /// Stops accounts (and waits until it has drained).
    pub(crate) async fn stop_accounts(&mut self) {
        let accounts = self.accounts.take().expect("accounts is running");
        accounts.stop().await.expect("accounts stops");
    }

    /// Starts accounts again on its address and database.
    pub(crate) async fn restart_accounts(&mut self) {
        let accounts =
            start_accounts(&self.pki, &self.auth, &self.data, Some(self.accounts_addr)).await;
        self.accounts = Some(accounts);
    }

    /// A token for `sub` holding `roles`, for payments and accounts.
    pub(crate) fn token(&self, sub: &str, roles: &[&str]) -> String {
        self.token_with(sub, |claims| claims["roles"] = json!(roles))
    }

    /// A token for `sub` with its claims edited by `edit`.
    pub(crate) fn token_with(&self, sub: &str, edit: impl FnOnce(&mut Value)) -> String {
        let mut claims = self.keys.issuer.claims(sub, &["payments", "accounts"]);
        edit(&mut claims);
        self.keys.issuer.token("es-1", &claims)
    }

    /// A token with `extra` added to the default scopes.
    pub(crate) fn token_with_scope(&self, sub: &str, roles: &[&str], extra: &str) -> String {
        self.token_with(sub, |claims| {
            claims["roles"] = json!(roles);
            let scope = format!("{} {extra}", claims["scope"].as_str().expect("scope"));
            claims["scope"] = json!(scope);
        })
    }

    /// The token `auth` gives the `orders` workload for its own work.
    pub(crate) fn orders_workload_token(&self) -> String {
        self.token("spiffe://mesh.local/orders", &[])
    }

    /// A channel to `addr` as workload `peer`, with `token` on every call.
    pub(crate) fn channel(&self, peer: &str, token: Option<&str>, addr: SocketAddr) -> Authed {
        self.pki.authed_channel(peer, token, addr)
    }

    /// Payments, called as workload `peer` with `token`.
    pub(crate) fn payments_as(&self, peer: &str, token: &str) -> PaymentsClient<Authed> {
        PaymentsClient::new(self.channel(peer, Some(token), self.payments.grpc_addr))
    }

    /// Payments, called by `orders` for user `sub`.
    pub(crate) fn orders_for(&self, sub: &str) -> PaymentsClient<Authed> {
        self.payments_as("orders", &self.token(sub, &["USER"]))
    }

    /// Accounts, called by the gateway with `token`.
    pub(crate) fn accounts_as(&self, token: &str) -> AccountsClient<Authed> {
        AccountsClient::new(self.channel("gateway", Some(token), self.accounts_addr))
    }

    /// Opens a `currency` account for `sub` and deposits `amount` into it.
    pub(crate) async fn funded_account(&self, sub: &str, currency: &str, amount: i64) -> String {
        let id = self
            .accounts_as(&self.token(sub, &["USER"]))
            .open_account(OpenAccountRequest {
                currency: currency.to_owned(),
            })
            .await
            .expect("open account")
            .into_inner()
            .account_id;
        if amount > 0 {
            self.accounts_as(&self.token("maria", &["MANAGER"]))
                .deposit(DepositRequest {
                    account_id: id.clone(),
                    amount_minor: amount,
                    currency: currency.to_owned(),
                    idempotency_key: format!("fund-{id}"),
                })
                .await
                .expect("deposit");
        }
        id
    }

    /// The balance of `account`, read by a MANAGER.
    pub(crate) async fn balance(&self, account: &str) -> i64 {
        self.accounts_as(&self.token("maria", &["MANAGER"]))
            .get_account(GetAccountRequest {
                account_id: account.to_owned(),
            })
            .await
            .expect("read account")
            .into_inner()
            .balance_minor
    }

    /// The ledger of `account`, newest first, read by a MANAGER.
    pub(crate) async fn ledger(&self, account: &str) -> Vec<LedgerEntry> {
        self.accounts_as(&self.token("maria", &["MANAGER"]))
            .list_ledger_entries(ListLedgerEntriesRequest {
                account_id: account.to_owned(),
                page_size: 100,
                page_token: String::new(),
            })
            .await
            .expect("read ledger")
            .into_inner()
            .entries
    }

    /// Freezes `account` as an ADMIN.
    pub(crate) async fn freeze(&self, account: &str) {
        let admin = self.token_with_scope("ada", &["ADMIN"], "admin");
        self.accounts_as(&admin)
            .freeze_account(FreezeAccountRequest {
                account_id: account.to_owned(),
                reason: "test".to_owned(),
            })
            .await
            .expect("freeze");
    }
}

/// A charge request of `amount` EUR from `account` under `key`.
pub(crate) fn charge_request(account: &str, amount: i64, key: &str) -> ChargeRequest {
    ChargeRequest {
        account_id: account.to_owned(),
        amount_minor: amount,
        currency: "EUR".to_owned(),
        idempotency_key: key.to_owned(),
        reference: format!("order for {key}"),
        validate_only: false,
    }
}

/// Charges as `client`.
pub(crate) async fn charge(
    client: &mut PaymentsClient<Authed>,
    request: ChargeRequest,
) -> Result<Payment, Status> {
    client
        .charge(request)
        .await
        .map(tonic::Response::into_inner)
}
