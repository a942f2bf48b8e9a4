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

pub(crate) mod client;
mod cluster;
pub(crate) mod invariants;
pub(crate) mod records;

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
    accounts::v1::{DepositRequest, OpenAccountRequest},
    orders::v1::{CancelOrderRequest, CreateOrderRequest, Order, OrderItem, OrderStatus},
};

use client::{Clients, retry};
use cluster::{Cluster, WORKLOADS};
use invariants::check;
use records::all_orders;

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
        let orders = all_orders(&clients.orders("maria", STAFF, cluster.addr("orders"))).await;
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
