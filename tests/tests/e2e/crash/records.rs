//! Reading every order, payment and ledger entry back, page by page, as
//! staff.

use mesh_proto::{
    accounts::v1::{LedgerEntry, ListLedgerEntriesRequest, accounts_client::AccountsClient},
    orders::v1::{ListOrdersRequest, Order},
    payments::v1::{ListPaymentsRequest, Payment},
};

use super::{
    ORDERS, STAFF,
    client::{Authed, Clients, retry},
    cluster::Cluster,
};

/// Every order, as staff see them.
pub(super) async fn all_orders(clients: &Clients<'_>, cluster: &Cluster<'_>) -> Vec<Order> {
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
pub(super) async fn all_payments(clients: &Clients<'_>, cluster: &Cluster<'_>) -> Vec<Payment> {
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
pub(super) async fn ledger(client: &AccountsClient<Authed>, account: &str) -> Vec<LedgerEntry> {
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
