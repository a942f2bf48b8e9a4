//! The whole sample domain in one test process, and clients that call it
//! as any workload with any token.

use std::{net::SocketAddr, path::Path, time::Duration};

use mesh::{
    config::TokenModeArg,
    testing::{Authed, KeyServer, Running, TestPki, spawn_service, start_key_server},
};
use mesh_proto::{
    accounts::v1::{
        DepositRequest, GetAccountRequest, LedgerEntry, ListLedgerEntriesRequest,
        OpenAccountRequest, accounts_client::AccountsClient,
    },
    orders::v1::{CreateOrderRequest, Order, OrderItem, orders_client::OrdersClient},
    payments::v1::{ListPaymentsRequest, Payment, payments_client::PaymentsClient},
};
use serde_json::{Value, json};
use tonic::Status;

/// The servers of one test and what they need.
pub(crate) struct Setup {
    pub(crate) pki: TestPki,
    pub(crate) keys: KeyServer,
    pub(crate) auth: Running,
    pub(crate) accounts: Running,
    /// `None` while a test has it stopped.
    pub(crate) payments: Option<Running>,
    pub(crate) payments_addr: SocketAddr,
    /// `None` while a test has it stopped.
    pub(crate) orders: Option<Running>,
    pub(crate) orders_addr: SocketAddr,
    pub(crate) resume_interval: Duration,
    pub(crate) mode: TokenModeArg,
    pub(crate) data: tempfile::TempDir,
}

/// Starts the key server, accounts, payments and orders (resuming every
/// `resume_interval`), passing tokens on the kit's default way.
pub(crate) async fn start_with(resume_interval: Duration) -> Setup {
    start_in(mesh::config::JwtArgs::default().token_mode, resume_interval).await
}

/// [`start_with`], passing tokens on as `mode` says.
pub(crate) async fn start_in(mode: TokenModeArg, resume_interval: Duration) -> Setup {
    let pki = TestPki::new();
    let (auth, keys) = start_key_server(&pki).await;
    let data = tempfile::tempdir().expect("temp dir");
    let accounts = start_accounts(&pki, &auth, data.path()).await;
    let payments = start_payments(&pki, &auth, mode, data.path(), accounts.grpc_addr, None).await;
    let orders = start_orders(
        &pki,
        &auth,
        mode,
        data.path(),
        payments.grpc_addr,
        resume_interval,
    )
    .await;
    Setup {
        pki,
        keys,
        auth,
        accounts,
        payments_addr: payments.grpc_addr,
        payments: Some(payments),
        orders_addr: orders.grpc_addr,
        orders: Some(orders),
        resume_interval,
        mode,
        data,
    }
}

/// [`start_with`] a resumer that runs at start-up only (during a test).
pub(crate) async fn start() -> Setup {
    start_with(Duration::from_secs(3600)).await
}

/// Server arguments for a workload that calls upstreams, passing tokens
/// on as `mode` says.
fn caller_args(
    pki: &TestPki,
    auth: &Running,
    workload: &str,
    mode: TokenModeArg,
) -> mesh::ServerArgs {
    let mut args = pki.service_args(workload, auth);
    args.jwt.token_mode = mode;
    args
}

async fn start_accounts(pki: &TestPki, auth: &Running, data: &Path) -> Running {
    let domain = accounts::AccountsArgs {
        data_dir: data.join("accounts"),
    };
    spawn_service(
        mesh::ACCOUNTS,
        pki.service_args("accounts", auth),
        async |server| accounts::service(server, domain).await,
    )
    .await
}

/// Starts payments on `listen` (or port 0) with its data in `data`.
pub(crate) async fn start_payments(
    pki: &TestPki,
    auth: &Running,
    mode: TokenModeArg,
    data: &Path,
    accounts: SocketAddr,
    listen: Option<SocketAddr>,
) -> Running {
    let mut args = caller_args(pki, auth, "payments", mode);
    if listen.is_some() {
        args.listen = listen;
    }
    let domain = payments::PaymentsArgs {
        data_dir: data.join("payments"),
        accounts_addr: accounts.to_string(),
        resume_interval: Duration::from_secs(3600),
        resume_after: Duration::ZERO,
    };
    spawn_service(mesh::PAYMENTS, args, async |server| {
        payments::service(server, domain).await
    })
    .await
}

/// Starts orders calling `payments`, with its data in `data`.
pub(crate) async fn start_orders(
    pki: &TestPki,
    auth: &Running,
    mode: TokenModeArg,
    data: &Path,
    payments: SocketAddr,
    resume_interval: Duration,
) -> Running {
    let domain = orders::OrdersArgs {
        data_dir: data.join("orders"),
        payments_addr: payments.to_string(),
        resume_interval,
        // No client retries here: the resumer may take orders at once.
        resume_after: Duration::ZERO,
    };
    spawn_service(
        mesh::ORDERS,
        caller_args(pki, auth, "orders", mode),
        async |server| orders::service(server, domain).await,
    )
    .await
}

impl Setup {
    /// Stops payments (and waits until it has drained).
    pub(crate) async fn stop_payments(&mut self) {
        let payments = self.payments.take().expect("payments is running");
        payments.stop().await.expect("payments stops");
    }

    /// Starts payments again on its address and database.
    pub(crate) async fn restart_payments(&mut self) {
        let payments = start_payments(
            &self.pki,
            &self.auth,
            self.mode,
            self.data.path(),
            self.accounts.grpc_addr,
            Some(self.payments_addr),
        )
        .await;
        self.payments = Some(payments);
    }

    /// Stops orders and starts it again on its database (on a new port).
    pub(crate) async fn restart_orders(&mut self) {
        let orders = self.orders.take().expect("orders is running");
        orders.stop().await.expect("orders stops");
        let orders = start_orders(
            &self.pki,
            &self.auth,
            self.mode,
            self.data.path(),
            self.payments_addr,
            self.resume_interval,
        )
        .await;
        self.orders_addr = orders.grpc_addr;
        self.orders = Some(orders);
    }

    /// A token for `sub` holding `roles`, valid at every hop (propagate mode).
    pub(crate) fn token(&self, sub: &str, roles: &[&str]) -> String {
        self.token_with(sub, |claims| claims["roles"] = json!(roles))
    }

    /// A token for `sub` with its claims edited by `edit`.
    pub(crate) fn token_with(&self, sub: &str, edit: impl FnOnce(&mut Value)) -> String {
        let mut claims = self
            .keys
            .issuer
            .claims(sub, &["orders", "payments", "accounts"]);
        edit(&mut claims);
        self.keys.issuer.token("es-1", &claims)
    }

    /// A channel to `addr` as workload `peer`, with `token` on every call.
    pub(crate) fn channel(&self, peer: &str, token: &str, addr: SocketAddr) -> Authed {
        self.pki.authed_channel(peer, Some(token), addr)
    }

    /// Orders, called by the gateway for USER `sub`.
    pub(crate) fn user(&self, sub: &str) -> OrdersClient<Authed> {
        self.orders_as("gateway", &self.token(sub, &["USER"]))
    }

    /// Orders, called as workload `peer` with `token`.
    pub(crate) fn orders_as(&self, peer: &str, token: &str) -> OrdersClient<Authed> {
        OrdersClient::new(self.channel(peer, token, self.orders_addr))
    }

    /// Accounts, called by the gateway as a MANAGER.
    pub(crate) fn accounts_as_manager(&self) -> AccountsClient<Authed> {
        let token = self.token("maria", &["MANAGER"]);
        AccountsClient::new(self.channel("gateway", &token, self.accounts.grpc_addr))
    }

    /// Opens an account for `sub` holding `amount` of `currency`.
    pub(crate) async fn funded_account(&self, sub: &str, currency: &str, amount: i64) -> String {
        let token = self.token(sub, &["USER"]);
        let id = AccountsClient::new(self.channel("gateway", &token, self.accounts.grpc_addr))
            .open_account(OpenAccountRequest {
                currency: currency.to_owned(),
            })
            .await
            .expect("open account")
            .into_inner()
            .account_id;
        if amount > 0 {
            self.accounts_as_manager()
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

    /// The balance of `account`.
    pub(crate) async fn balance(&self, account: &str) -> i64 {
        self.accounts_as_manager()
            .get_account(GetAccountRequest {
                account_id: account.to_owned(),
            })
            .await
            .expect("read account")
            .into_inner()
            .balance_minor
    }

    /// The ledger of `account`, newest first (at most 100 entries).
    pub(crate) async fn ledger(&self, account: &str) -> Vec<LedgerEntry> {
        self.accounts_as_manager()
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

    /// Every payment, as staff see them (at most 100).
    pub(crate) async fn payments(&self) -> Vec<Payment> {
        let token = self.token("maria", &["MANAGER"]);
        PaymentsClient::new(self.channel("gateway", &token, self.payments_addr))
            .list_payments(ListPaymentsRequest {
                page_size: 100,
                page_token: String::new(),
            })
            .await
            .expect("list payments")
            .into_inner()
            .payments
    }
}

/// An order of `quantity` × `unit_price` EUR from `account` under `key`.
pub(crate) fn order(
    account: &str,
    quantity: i32,
    unit_price: i64,
    key: &str,
) -> CreateOrderRequest {
    CreateOrderRequest {
        account_id: account.to_owned(),
        items: vec![OrderItem {
            sku: "sku-1".to_owned(),
            quantity,
            unit_price_minor: unit_price,
        }],
        currency: "EUR".to_owned(),
        idempotency_key: key.to_owned(),
    }
}

/// Places `request` as `client`.
pub(crate) async fn create(
    client: &mut OrdersClient<Authed>,
    request: impl tonic::IntoRequest<CreateOrderRequest>,
) -> Result<Order, Status> {
    client
        .create_order(request)
        .await
        .map(tonic::Response::into_inner)
}
