//! Reading every order, payment and ledger entry back, page by page, as
//! staff (shared with the container test).

use mesh_proto::{
    accounts::v1::{LedgerEntry, ListLedgerEntriesRequest, accounts_client::AccountsClient},
    orders::v1::{ListOrdersRequest, Order, orders_client::OrdersClient},
    payments::v1::{ListPaymentsRequest, Payment, payments_client::PaymentsClient},
};

use super::client::{Authed, retry};

/// A bound on the pages read of one list: 100 000 records.
const MAX_PAGES: usize = 1_000;

/// Every order `client` (staff) may see.
pub(crate) async fn all_orders(client: &OrdersClient<Authed>) -> Vec<Order> {
    let (mut all, mut token) = (Vec::new(), String::new());
    for _ in 0..MAX_PAGES {
        let request = ListOrdersRequest {
            page_size: 100,
            page_token: token,
        };
        let page = retry(client, &request, |mut c, r| async move {
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

/// Every payment `client` (staff) may see.
pub(crate) async fn all_payments(client: &PaymentsClient<Authed>) -> Vec<Payment> {
    let (mut all, mut token) = (Vec::new(), String::new());
    for _ in 0..MAX_PAGES {
        let request = ListPaymentsRequest {
            page_size: 100,
            page_token: token,
        };
        let page = retry(client, &request, |mut c, r| async move {
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
pub(crate) async fn ledger(client: &AccountsClient<Authed>, account: &str) -> Vec<LedgerEntry> {
    let (mut all, mut token) = (Vec::new(), String::new());
    for _ in 0..MAX_PAGES {
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
