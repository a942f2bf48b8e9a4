//! Case 42: any domain workload SIGKILLed at any point of the order saga,
//! then restarted, and still every order ends paid or declined exactly
//! once and no money is created or lost.
//!
//! accounts, payments and orders run as separate processes on loopback
//! (the binaries next to this test); the key server, a stand-in for
//! `auth` (JWKS and workload tokens), runs in the test. A bounded stream of
//! orders from a few users (some of them cancelled once paid) runs while a
//! chaos loop kills a random workload at random points and restarts it on
//! the same port and data directory. Some clients give up after one
//! attempt, leaving their orders to the restarted orders' resumer.
//! Afterwards the records of all three services must agree: sum of
//! balances = deposits - captured + refunds.

mod client;
mod cluster;

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use mesh::testing::{TestPki, eventually, start_key_server};
use mesh_proto::{
    accounts::v1::{
        DepositRequest, EntryKind, GetAccountRequest, LedgerEntry, ListLedgerEntriesRequest,
        OpenAccountRequest,
    },
    orders::v1::{
        CancelOrderRequest, CreateOrderRequest, ListOrdersRequest, Order, OrderItem, OrderStatus,
    },
    payments::v1::{ListPaymentsRequest, Payment, PaymentStatus},
};

use client::{Clients, retry};
use cluster::{Cluster, WORKLOADS};

const USERS: [&str; 4] = ["ana", "ben", "cleo", "dev"];
const DEPOSIT: i64 = 25_000;
/// Orders in the stream: about 35 000 asked of each 25 000 account.
const ORDERS: usize = 120;
const WORKERS: usize = 4;
const KILLS: usize = 8;
/// Every this many paid orders, one is cancelled (and refunded).
const CANCEL_EVERY: usize = 5;
/// Every this many orders, the client tries once, with a short deadline,
/// and walks away.
const ABANDON_EVERY: usize = 7;
const STAFF: &[&str] = &["MANAGER"];

/// One order of the stream and what its client saw.
#[derive(Debug, Clone)]
struct Outcome {
    order: Order,
    cancelled: bool,
}

/// Whether the client of order `i` gives up after one attempt.
fn abandons(i: usize) -> bool {
    i % ABANDON_EVERY == ABANDON_EVERY - 1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_workloads_neither_create_nor_lose_money() {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    eprintln!("crash test seed: {seed}");
    let mut rng = Rng(seed | 1);
    let pki = TestPki::new();
    let (auth, keys) = start_key_server(&pki).await;
    let scratch = tempfile::tempdir().expect("temp dir");
    let mut cluster = Cluster::start(&pki, scratch.path(), auth.grpc_addr).await;
    let clients = Clients {
        pki: &pki,
        keys: &keys,
    };

    let accounts = open_funded_accounts(&clients, &cluster).await;
    let plan: Arc<Vec<CreateOrderRequest>> = Arc::new(
        (0..ORDERS)
            .map(|i| {
                let user = USERS[rng.below(USERS.len())];
                CreateOrderRequest {
                    account_id: accounts[user].clone(),
                    items: vec![OrderItem {
                        sku: format!("sku-{i}"),
                        quantity: 1 + rng.below(3) as i32,
                        unit_price_minor: 100 + rng.below(900) as i64,
                    }],
                    currency: "EUR".to_owned(),
                    idempotency_key: format!("{user}-{i}"),
                }
            })
            .collect(),
    );
    // Whose each order is, and whether its client retries until answered.
    let owners: Vec<(&str, bool)> = plan
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let owner = r.idempotency_key.split('-').next().expect("user prefix");
            (owner, !abandons(i))
        })
        .collect();

    // The stream: workers take the next order of the plan until none is left.
    let (progress, mut progressed) = tokio::sync::watch::channel(0usize);
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (plan, next, progress) = (plan.clone(), next.clone(), progress.clone());
            let orders: HashMap<&str, _> = USERS
                .iter()
                .map(|u| (*u, clients.orders(u, &["USER"], cluster.addr("orders"))))
                .collect();
            tokio::spawn(async move {
                let mut outcomes = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(request) = plan.get(i) else {
                        return outcomes;
                    };
                    let user =
                        &request.idempotency_key[..request.idempotency_key.find('-').expect("key")];
                    let client = &orders[user];
                    if abandons(i) {
                        // One attempt: if it fails, the order may or may not
                        // have been written; if it was, the resumer ends it.
                        let mut once = tonic::Request::new(request.clone());
                        once.set_timeout(Duration::from_millis(300));
                        if let Ok(order) = client.clone().create_order(once).await {
                            let order = order.into_inner();
                            outcomes.push(Outcome {
                                order,
                                cancelled: false,
                            });
                        }
                        progress.send_modify(|n| *n += 1);
                        continue;
                    }
                    let order = retry(client, request, |mut c, r| async move {
                        c.create_order(r).await
                    })
                    .await
                    .unwrap_or_else(|status| panic!("order {i} got no answer: {status:?}"));
                    let cancel = order.status() == OrderStatus::Paid && i % CANCEL_EVERY == 0;
                    let order = if cancel {
                        let request = CancelOrderRequest {
                            order_id: order.order_id.clone(),
                            reason: "chaos".to_owned(),
                        };
                        retry(client, &request, |mut c, r| async move {
                            c.cancel_order(r).await
                        })
                        .await
                        .unwrap_or_else(|status| panic!("cancel {i} got no answer: {status:?}"))
                    } else {
                        order
                    };
                    outcomes.push(Outcome {
                        order,
                        cancelled: cancel,
                    });
                    progress.send_modify(|n| *n += 1);
                }
            })
        })
        .collect();

    // The chaos: KILLS times, once the stream reached a point, wait a random
    // moment, SIGKILL a random workload and restart it.
    let mut killed = Vec::new();
    for k in 0..KILLS {
        let at = (k + 1) * ORDERS / (KILLS + 1);
        tokio::time::timeout(Duration::from_secs(120), progressed.wait_for(|n| *n >= at))
            .await
            .expect("the stream keeps moving")
            .expect("workers alive");
        tokio::time::sleep(Duration::from_millis(rng.below(40) as u64)).await;
        let victim = WORKLOADS[rng.below(WORKLOADS.len())];
        cluster.kill_and_restart(victim).await;
        killed.push(victim);
    }
    eprintln!("killed and restarted, in order: {killed:?}");
    let mut outcomes = Vec::new();
    for worker in workers {
        outcomes.extend(worker.await.expect("worker"));
    }
    let retried = (0..ORDERS).filter(|i| !abandons(*i)).count();
    assert!(outcomes.len() >= retried);

    // Orders left PENDING by an outage are settled by the restarted orders.
    let settled = eventually(Duration::from_secs(60), || async {
        let orders = all_orders(&clients, &cluster).await;
        orders
            .iter()
            .all(|o| o.status() != OrderStatus::Pending)
            .then_some(orders)
    })
    .await
    .expect("every order settled within 60 s");

    check(&clients, &cluster, &accounts, &outcomes, &owners, &settled).await;
}

/// Opens one account per user and deposits [`DEPOSIT`] into each.
async fn open_funded_accounts(
    clients: &Clients<'_>,
    cluster: &Cluster<'_>,
) -> HashMap<&'static str, String> {
    let staff = clients.accounts("maria", STAFF, cluster.addr("accounts"));
    let mut accounts = HashMap::new();
    for user in USERS {
        let client = clients.accounts(user, &["USER"], cluster.addr("accounts"));
        let open = OpenAccountRequest {
            currency: "EUR".to_owned(),
        };
        let account = retry(
            &client,
            &open,
            |mut c, r| async move { c.open_account(r).await },
        )
        .await
        .expect("open account");
        let deposit = DepositRequest {
            account_id: account.account_id.clone(),
            amount_minor: DEPOSIT,
            currency: "EUR".to_owned(),
            idempotency_key: format!("fund-{user}"),
        };
        retry(
            &staff,
            &deposit,
            |mut c, r| async move { c.deposit(r).await },
        )
        .await
        .expect("deposit");
        accounts.insert(user, account.account_id);
    }
    accounts
}

/// The invariants of case 42, from each service's own records.
async fn check(
    clients: &Clients<'_>,
    cluster: &Cluster<'_>,
    accounts: &HashMap<&str, String>,
    outcomes: &[Outcome],
    owners: &[(&str, bool)],
    orders: &[Order],
) {
    // One order per idempotency key (at most one for a client that gave
    // up), each where its client last saw it.
    let by_id: HashMap<&str, &Order> = orders.iter().map(|o| (o.order_id.as_str(), o)).collect();
    for outcome in outcomes {
        let now = by_id[outcome.order.order_id.as_str()];
        let seen = outcome.order.status();
        if seen != OrderStatus::Pending {
            assert_eq!(
                now.status(),
                seen,
                "an order changed after it was settled: {now:?}"
            );
        }
        let expect_cancelled = outcome.cancelled;
        assert_eq!(
            now.status() == OrderStatus::Cancelled,
            expect_cancelled,
            "{now:?}"
        );
    }
    for user in USERS {
        let placed = orders.iter().filter(|o| o.owner == user).count();
        let planned = owners.iter().filter(|(owner, _)| *owner == user);
        let retried = planned.clone().filter(|(_, retries)| *retries).count();
        let at_most = planned.count();
        assert!(
            (retried..=at_most).contains(&placed),
            "{user}: {placed} orders for {retried} retried and {at_most} planned keys"
        );
    }

    // Each order has at most one payment; paid ones exactly one captured
    // charge of their amount, cancelled ones a refunded one, declined ones
    // none that took money.
    let payments = all_payments(clients, cluster).await;
    let mut by_order: HashMap<&str, Vec<&Payment>> = HashMap::new();
    for payment in &payments {
        assert_ne!(
            payment.status(),
            PaymentStatus::Unspecified,
            "unsettled: {payment:?}"
        );
        by_order
            .entry(payment.reference.as_str())
            .or_default()
            .push(payment);
    }
    for (order_id, payments) in &by_order {
        assert!(
            by_id.contains_key(order_id),
            "a payment without an order: {payments:?}"
        );
        assert_eq!(payments.len(), 1, "one charge per order: {payments:?}");
    }
    for order in orders {
        let payment = by_order.get(order.order_id.as_str()).map(|p| p[0]);
        let expected = match order.status() {
            OrderStatus::Paid => Some(PaymentStatus::Captured),
            OrderStatus::Cancelled => Some(PaymentStatus::Refunded),
            OrderStatus::Declined => payment.map(|_| PaymentStatus::Declined),
            other => panic!("unsettled order {other:?}"),
        };
        assert_eq!(
            payment.map(Payment::status),
            expected,
            "{order:?} / {payment:?}"
        );
        if let Some(payment) = payment.filter(|p| p.status() != PaymentStatus::Declined) {
            assert_eq!(payment.amount_minor, order.amount_minor);
            assert_eq!(payment.payment_id, order.payment_id);
        }
    }

    // The money: per account and in all.
    let staff = clients.accounts("maria", STAFF, cluster.addr("accounts"));
    let (mut balances, mut captured, mut refunded) = (0, 0, 0);
    for account in accounts.values() {
        let request = GetAccountRequest {
            account_id: account.clone(),
        };
        let balance = retry(&staff, &request, |mut c, r| async move {
            c.get_account(r).await
        })
        .await
        .expect("read account")
        .balance_minor;
        assert!(balance >= 0);
        let ledger = ledger(&staff, account).await;
        let ours = payments.iter().filter(|p| &p.account_id == account);
        let taken: i64 = ours
            .clone()
            .filter(|p| {
                matches!(
                    p.status(),
                    PaymentStatus::Captured | PaymentStatus::Refunded
                )
            })
            .map(|p| p.amount_minor)
            .sum();
        let given: i64 = ours
            .filter(|p| p.status() == PaymentStatus::Refunded)
            .map(|p| p.amount_minor)
            .sum();
        assert_eq!(balance, DEPOSIT - taken + given, "account {account}");
        let debits: i64 = ledger
            .iter()
            .filter(|e| e.kind() == EntryKind::Debit)
            .map(|e| -e.amount_minor)
            .sum();
        let credits: i64 = ledger
            .iter()
            .filter(|e| e.kind() == EntryKind::Credit)
            .map(|e| e.amount_minor)
            .sum();
        assert_eq!((debits, credits), (taken, given), "ledger of {account}");
        balances += balance;
        captured += taken;
        refunded += given;
    }
    let deposits = DEPOSIT * USERS.len() as i64;
    assert_eq!(balances, deposits - captured + refunded);
    let paid = orders
        .iter()
        .filter(|o| o.status() == OrderStatus::Paid)
        .count();
    let mut reasons: HashMap<&str, usize> = HashMap::new();
    for order in orders
        .iter()
        .filter(|o| o.status() == OrderStatus::Declined)
    {
        *reasons.entry(order.decline_reason.as_str()).or_default() += 1;
    }
    let pending = outcomes
        .iter()
        .filter(|o| o.order.status() == OrderStatus::Pending)
        .count();
    eprintln!(
        "{} orders: {paid} paid, declined {reasons:?}, {} cancelled; {pending} answered PENDING; \
         {} transient failures retried; captured {captured}, refunded {refunded}",
        orders.len(),
        outcomes.iter().filter(|o| o.cancelled).count(),
        client::RETRIES.load(Ordering::Relaxed),
    );
}

/// Every order, as staff see them.
async fn all_orders(clients: &Clients<'_>, cluster: &Cluster<'_>) -> Vec<Order> {
    let client = clients.orders("maria", STAFF, cluster.addr("orders"));
    let (mut all, mut token) = (Vec::new(), String::new());
    for _ in 0..=ORDERS / 100 + 1 {
        let request = ListOrdersRequest {
            page_size: 100,
            page_token: token,
        };
        let page = retry(&client, &request, |mut c, r| async move {
            c.list_orders(r).await
        })
        .await
        .expect("list orders");
        all.extend(page.orders);
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    all
}

/// Every payment, as staff see them.
async fn all_payments(clients: &Clients<'_>, cluster: &Cluster<'_>) -> Vec<Payment> {
    let client = clients.payments("maria", STAFF, cluster.addr("payments"));
    let (mut all, mut token) = (Vec::new(), String::new());
    for _ in 0..=ORDERS / 100 + 1 {
        let request = ListPaymentsRequest {
            page_size: 100,
            page_token: token,
        };
        let page = retry(&client, &request, |mut c, r| async move {
            c.list_payments(r).await
        })
        .await
        .expect("list payments");
        all.extend(page.payments);
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    all
}

/// The whole ledger of `account`.
async fn ledger(
    client: &mesh_proto::accounts::v1::accounts_client::AccountsClient<client::Authed>,
    account: &str,
) -> Vec<LedgerEntry> {
    let (mut all, mut token) = (Vec::new(), String::new());
    for _ in 0..=ORDERS / 100 + 2 {
        let request = ListLedgerEntriesRequest {
            account_id: account.to_owned(),
            page_size: 100,
            page_token: token,
        };
        let page = retry(client, &request, |mut c, r| async move {
            c.list_ledger_entries(r).await
        })
        .await
        .expect("list ledger");
        all.extend(page.entries);
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    all
}

/// A small seeded generator (xorshift64*), so a failing run can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
    }
}
