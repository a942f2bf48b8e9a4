//! Orders through the published gateway (gRPC, the demo users' tokens),
//! flowing while the test injects faults, and what must hold afterwards:
//! every order terminal, one captured charge per paid order (refunded once
//! cancelled), no negative balance, and the money adding up per account
//! and in all: sum of balances = deposits - captured + refunded.

use std::{
    collections::HashMap,
    net::SocketAddr,
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use mesh::testing::{ClientCert, raw_channel};
use mesh_proto::{
    accounts::v1::{
        DepositRequest, GetAccountRequest, OpenAccountRequest, accounts_client::AccountsClient,
    },
    orders::v1::{
        CancelOrderRequest, CreateOrderRequest, Order, OrderItem, OrderStatus,
        orders_client::OrdersClient,
    },
    payments::v1::{PaymentStatus, payments_client::PaymentsClient},
};
use tokio::task::JoinHandle;

use super::project::poll;
use crate::crash::{
    client::{Authed, authed, retry},
    invariants::{moved, one_charge_per_order},
    records::{all_orders, all_payments},
};

/// What each shopper's account is funded with: more than the stream spends.
const DEPOSIT: i64 = 1_000_000;
/// Every this many paid orders, one is cancelled (and refunded).
const CANCEL_EVERY: usize = 5;
/// A bound on the stream, whatever happens to the faults.
const MAX_ORDERS: usize = 2_000;

/// The gateway and the tokens of the demo users.
pub(super) struct Shop {
    gateway: SocketAddr,
    channel: tonic::transport::Channel,
    /// `alice` and `bob` (USER) and their accounts.
    shoppers: Vec<(String, String)>,
    tokens: HashMap<String, String>,
}

/// How the stream went, from the clients' side.
#[derive(Debug, Default)]
pub(super) struct Stream {
    /// Orders the clients asked for.
    pub(super) asked: usize,
    /// Requests made: orders and cancellations.
    pub(super) requests: usize,
    /// Requests (orders or cancellations) that failed even after retries.
    pub(super) failed: usize,
    /// Calls sent, retries included.
    pub(super) attempts: usize,
    /// Orders first answered PENDING (an outage mid-saga), left to the resumer.
    pub(super) pending: usize,
    /// The orders the clients saw, and whether they cancelled them.
    outcomes: Vec<(Order, bool)>,
}

impl Stream {
    /// Adds another worker's figures to these.
    pub(super) fn merge(&mut self, other: Stream) {
        self.asked += other.asked;
        self.requests += other.requests;
        self.failed += other.failed;
        self.pending += other.pending;
        self.attempts += other.attempts;
        self.outcomes.extend(other.outcomes);
    }
}

/// The figures of the money check.
#[derive(Debug)]
pub(super) struct Figures {
    orders: usize,
    paid: usize,
    declined: usize,
    cancelled: usize,
    deposits: i64,
    captured: i64,
    refunded: i64,
    balances: i64,
}

impl std::fmt::Display for Figures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} orders: {} paid, {} declined, {} cancelled; balances {} = deposits {} - captured {} + refunded {}",
            self.orders,
            self.paid,
            self.declined,
            self.cancelled,
            self.balances,
            self.deposits,
            self.captured,
            self.refunded
        )
    }
}

impl Shop {
    /// Opens and funds one account per shopper (`maria`, a MANAGER, deposits).
    pub(super) async fn open(
        gateway: SocketAddr,
        ca: &Path,
        tokens: HashMap<String, String>,
        run: &str,
    ) -> Self {
        let channel = raw_channel(&ClientCert::None, ca, gateway);
        let mut shop = Self {
            gateway,
            channel,
            shoppers: Vec::new(),
            tokens,
        };
        let staff = AccountsClient::new(shop.authed("maria"));
        for user in ["alice", "bob"] {
            let client = AccountsClient::new(shop.authed(user));
            let open = OpenAccountRequest {
                currency: "EUR".to_owned(),
            };
            let account = retry(
                &client,
                &open,
                |mut c, r| async move { c.open_account(r).await },
            )
            .await
            .expect("open account")
            .account_id;
            let deposit = DepositRequest {
                account_id: account.clone(),
                amount_minor: DEPOSIT,
                currency: "EUR".to_owned(),
                idempotency_key: format!("{run}-fund-{user}"),
            };
            retry(
                &staff,
                &deposit,
                |mut c, r| async move { c.deposit(r).await },
            )
            .await
            .expect("deposit");
            shop.shoppers.push((user.to_owned(), account));
        }
        shop
    }

    fn authed(&self, user: &str) -> Authed {
        authed(self.channel.clone(), &self.tokens[user])
    }

    /// The shoppers' accounts.
    pub(super) fn accounts(&self) -> Vec<String> {
        self.shoppers.iter().map(|(_, a)| a.clone()).collect()
    }

    /// Starts `workers` clients placing orders until `stop` is set (or
    /// [`MAX_ORDERS`]); `placed` counts the orders answered.
    pub(super) fn stream(
        &self,
        workers: usize,
        run: &str,
        stop: Arc<AtomicBool>,
        placed: Arc<AtomicUsize>,
    ) -> Vec<JoinHandle<Stream>> {
        let next = Arc::new(AtomicUsize::new(0));
        (0..workers)
            .map(|w| {
                let (user, account) = self.shoppers[w % self.shoppers.len()].clone();
                let client = OrdersClient::new(self.authed(&user));
                let (next, stop, placed, run) =
                    (next.clone(), stop.clone(), placed.clone(), run.to_owned());
                tokio::spawn(async move {
                    let mut stream = Stream::default();
                    let attempts = AtomicUsize::new(0);
                    while !stop.load(Ordering::SeqCst) {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        if i >= MAX_ORDERS {
                            break;
                        }
                        stream.asked += 1;
                        stream.requests += 1;
                        let request = CreateOrderRequest {
                            account_id: account.clone(),
                            items: vec![OrderItem {
                                sku: format!("sku-{i}"),
                                quantity: 1 + (i % 3) as i32,
                                unit_price_minor: 100 + (i * 37 % 900) as i64,
                            }],
                            currency: "EUR".to_owned(),
                            idempotency_key: format!("{run}-order-{i}"),
                        };
                        let order = retry(&client, &request, |mut c, r| {
                            attempts.fetch_add(1, Ordering::Relaxed);
                            async move { c.create_order(r).await }
                        })
                        .await;
                        let Ok(order) = order else {
                            stream.failed += 1;
                            continue;
                        };
                        if order.status() == OrderStatus::Pending {
                            stream.pending += 1;
                        }
                        let cancel = order.status() == OrderStatus::Paid && i % CANCEL_EVERY == 0;
                        let order = if cancel {
                            stream.requests += 1;
                            let request = CancelOrderRequest {
                                order_id: order.order_id.clone(),
                                reason: "changed my mind".to_owned(),
                            };
                            match retry(&client, &request, |mut c, r| {
                                attempts.fetch_add(1, Ordering::Relaxed);
                                async move { c.cancel_order(r).await }
                            })
                            .await
                            {
                                Ok(cancelled) => cancelled,
                                Err(_) => {
                                    stream.failed += 1;
                                    continue;
                                }
                            }
                        } else {
                            order
                        };
                        stream.outcomes.push((order, cancel));
                        placed.fetch_add(1, Ordering::SeqCst);
                    }
                    stream.attempts = attempts.into_inner();
                    stream
                })
            })
            .collect()
    }

    /// Checks the money once every order of the shoppers is terminal
    /// (waiting, bounded, for orders' resumer to settle those an outage
    /// left pending).
    pub(super) async fn check(&self, stream: &Stream) -> Figures {
        let staff_orders = OrdersClient::new(self.authed("maria"));
        let accounts = self.accounts();
        let ours = |orders: Vec<Order>| -> Vec<Order> {
            orders
                .into_iter()
                .filter(|o| accounts.contains(&o.account_id))
                .collect()
        };
        let orders = poll(Duration::from_secs(120), Duration::from_secs(1), || async {
            let orders = ours(all_orders(&staff_orders).await);
            orders
                .iter()
                .all(|o| {
                    matches!(
                        o.status(),
                        OrderStatus::Paid | OrderStatus::Declined | OrderStatus::Cancelled
                    )
                })
                .then_some(orders)
        })
        .await
        .unwrap_or_else(|| {
            panic!(
                "orders still not terminal 120 s after the faults (gateway {})",
                self.gateway
            )
        });

        // What the clients saw settled stays so.
        let by_id: HashMap<&str, &Order> =
            orders.iter().map(|o| (o.order_id.as_str(), o)).collect();
        for (seen, cancelled) in &stream.outcomes {
            let now = by_id
                .get(seen.order_id.as_str())
                .unwrap_or_else(|| panic!("an answered order is missing: {seen:?}"));
            if seen.status() != OrderStatus::Pending {
                assert_eq!(now.status(), seen.status(), "{now:?}");
            }
            assert_eq!(
                now.status() == OrderStatus::Cancelled,
                *cancelled,
                "{now:?}"
            );
        }

        // One charge per order: captured if paid, refunded if cancelled,
        // none that took money if declined.
        let payments: Vec<_> = all_payments(&PaymentsClient::new(self.authed("maria")))
            .await
            .into_iter()
            .filter(|p| accounts.contains(&p.account_id))
            .collect();
        let by_order = one_charge_per_order(&payments, &by_id);
        for order in &orders {
            let payment = by_order.get(order.order_id.as_str()).map(|p| p[0]);
            let expected = match order.status() {
                OrderStatus::Paid => Some(PaymentStatus::Captured),
                OrderStatus::Cancelled => Some(PaymentStatus::Refunded),
                _ => payment.map(|_| PaymentStatus::Declined),
            };
            assert_eq!(
                payment.map(|p| p.status()),
                expected,
                "{order:?} / {payment:?}"
            );
            if let Some(p) = payment.filter(|p| p.status() != PaymentStatus::Declined) {
                assert_eq!(p.amount_minor, order.amount_minor, "{order:?} / {p:?}");
            }
        }

        // The money, per account and in all.
        let staff = AccountsClient::new(self.authed("maria"));
        let (mut balances, mut captured, mut refunded) = (0, 0, 0);
        for account in &accounts {
            let request = GetAccountRequest {
                account_id: account.clone(),
            };
            let balance = retry(&staff, &request, |mut c, r| async move {
                c.get_account(r).await
            })
            .await
            .expect("read account")
            .balance_minor;
            assert!(balance >= 0, "account {account} is negative: {balance}");
            let (taken, given) = moved(&payments, account);
            assert_eq!(balance, DEPOSIT - taken + given, "account {account}");
            balances += balance;
            captured += taken;
            refunded += given;
        }
        let deposits = DEPOSIT * accounts.len() as i64;
        assert_eq!(balances, deposits - captured + refunded);
        let count = |status| orders.iter().filter(|o| o.status() == status).count();
        Figures {
            orders: orders.len(),
            paid: count(OrderStatus::Paid),
            declined: count(OrderStatus::Declined),
            cancelled: count(OrderStatus::Cancelled),
            deposits,
            captured,
            refunded,
            balances,
        }
    }

    /// The shoppers' balances and order count, to compare across restarts.
    pub(super) async fn snapshot(&self) -> (Vec<i64>, usize) {
        let staff = AccountsClient::new(self.authed("maria"));
        let mut balances = Vec::new();
        for account in self.accounts() {
            let request = GetAccountRequest {
                account_id: account,
            };
            let account = retry(&staff, &request, |mut c, r| async move {
                c.get_account(r).await
            })
            .await
            .expect("read account");
            balances.push(account.balance_minor);
        }
        let accounts = self.accounts();
        let orders = all_orders(&OrdersClient::new(self.authed("maria")))
            .await
            .into_iter()
            .filter(|o| accounts.contains(&o.account_id))
            .count();
        (balances, orders)
    }
}
