//! One accounts server with its key server, and clients that call it as
//! any workload with any token.

use std::path::Path;

use mesh::testing::{Authed, KeyServer, Running, TestPki, spawn_service, start_key_server};
use mesh_proto::accounts::v1::{
    Account, DebitRequest, DepositRequest, GetAccountRequest, LedgerEntry,
    ListLedgerEntriesRequest, OpenAccountRequest, accounts_client::AccountsClient,
};
use serde_json::{Value, json};
use tonic::Status;

/// A client of the accounts workload with a token attached to every call.
pub(crate) type Client = AccountsClient<Authed>;

/// An accounts server, its key server, and the PKI both use.
pub(crate) struct Setup {
    pub(crate) pki: TestPki,
    pub(crate) keys: KeyServer,
    pub(crate) accounts: Running,
    _auth: Running,
    _data: tempfile::TempDir,
}

/// Starts the key server and an accounts server on a fresh database.
pub(crate) async fn start() -> Setup {
    start_with(|_| {}).await
}

/// [`start`], with the server's flags edited by `edit`.
pub(crate) async fn start_with(edit: impl FnOnce(&mut mesh::ServerArgs)) -> Setup {
    launch(edit, async |_| {}).await
}

/// [`start`] on the data directory `prepare` left (an older database).
pub(crate) async fn start_in(prepare: impl AsyncFnOnce(&Path)) -> Setup {
    launch(|_| {}, prepare).await
}

async fn launch(
    edit: impl FnOnce(&mut mesh::ServerArgs),
    prepare: impl AsyncFnOnce(&Path),
) -> Setup {
    let pki = TestPki::new();
    let (auth, keys) = start_key_server(&pki).await;
    let data = tempfile::tempdir().expect("temp dir");
    let domain = accounts::AccountsArgs {
        data_dir: data.path().join("accounts"),
    };
    prepare(&domain.data_dir).await;
    let mut args = pki.service_args("accounts", &auth);
    edit(&mut args);
    let accounts = spawn_service(mesh::ACCOUNTS, args, async |server| {
        accounts::service(server, domain).await
    })
    .await;
    Setup {
        pki,
        keys,
        accounts,
        _auth: auth,
        _data: data,
    }
}

impl Setup {
    /// A token for `sub` holding `roles`, with the default test scopes.
    pub(crate) fn token(&self, sub: &str, roles: &[&str]) -> String {
        self.token_with(sub, |claims| claims["roles"] = json!(roles))
    }

    /// A token for `sub` with its claims edited by `edit`.
    pub(crate) fn token_with(&self, sub: &str, edit: impl FnOnce(&mut Value)) -> String {
        let mut claims = self.keys.issuer.claims(sub, &["accounts"]);
        edit(&mut claims);
        self.keys.issuer.token("es-1", &claims)
    }

    /// An ADMIN token that also carries scope `admin`.
    pub(crate) fn admin_token(&self, sub: &str) -> String {
        self.token_with(sub, |claims| {
            claims["roles"] = json!(["ADMIN"]);
            let scope = format!("{} admin", claims["scope"].as_str().expect("scope"));
            claims["scope"] = json!(scope);
        })
    }

    /// A client calling as workload `peer` (its certificate) with `token`.
    pub(crate) fn client(&self, peer: &str, token: Option<&str>) -> Client {
        AccountsClient::new(
            self.pki
                .authed_channel(peer, token, self.accounts.grpc_addr),
        )
    }

    /// The gateway calling for user `sub` (role USER).
    pub(crate) fn user(&self, sub: &str) -> Client {
        self.client("gateway", Some(&self.token(sub, &["USER"])))
    }

    /// The gateway calling for a MANAGER.
    pub(crate) fn manager(&self) -> Client {
        self.client("gateway", Some(&self.token("maria", &["MANAGER"])))
    }

    /// The payments workload calling with `sub`'s token.
    pub(crate) fn payments(&self, sub: &str) -> Client {
        self.client("payments", Some(&self.token(sub, &["USER"])))
    }

    /// The Prometheus text of the accounts admin port.
    pub(crate) async fn metrics(&self) -> String {
        mesh::testing::http_get(self.accounts.admin_addr, "/metrics")
            .await
            .1
    }
}

/// Opens a `currency` account as `client`'s subject.
pub(crate) async fn open(client: &mut Client, currency: &str) -> Account {
    client
        .open_account(OpenAccountRequest {
            currency: currency.to_owned(),
        })
        .await
        .expect("open account")
        .into_inner()
}

/// Reads account `id` as `client`.
pub(crate) async fn get(client: &mut Client, id: &str) -> Result<Account, Status> {
    client
        .get_account(GetAccountRequest {
            account_id: id.to_owned(),
        })
        .await
        .map(tonic::Response::into_inner)
}

/// Deposits `amount` EUR into `account` under `key`.
pub(crate) async fn deposit(
    client: &mut Client,
    account: &str,
    amount: i64,
    key: &str,
) -> Result<LedgerEntry, Status> {
    client
        .deposit(DepositRequest {
            account_id: account.to_owned(),
            amount_minor: amount,
            currency: "EUR".to_owned(),
            idempotency_key: key.to_owned(),
        })
        .await
        .map(tonic::Response::into_inner)
}

/// Debits `amount` EUR from `account` for `payment`.
pub(crate) async fn debit(
    client: &mut Client,
    account: &str,
    amount: i64,
    payment: &str,
) -> Result<LedgerEntry, Status> {
    client
        .debit(DebitRequest {
            account_id: account.to_owned(),
            amount_minor: amount,
            currency: "EUR".to_owned(),
            payment_id: payment.to_owned(),
        })
        .await
        .map(tonic::Response::into_inner)
}

/// The whole ledger of `account` as `client` sees it, newest first.
pub(crate) async fn ledger(client: &mut Client, account: &str) -> Vec<LedgerEntry> {
    client
        .list_ledger_entries(ListLedgerEntriesRequest {
            account_id: account.to_owned(),
            page_size: 100,
            page_token: String::new(),
        })
        .await
        .expect("list ledger")
        .into_inner()
        .entries
}

/// The balance of `account`, read by a MANAGER.
pub(crate) async fn balance(setup: &Setup, account: &str) -> i64 {
    get(&mut setup.manager(), account)
        .await
        .expect("manager reads the account")
        .balance_minor
}
