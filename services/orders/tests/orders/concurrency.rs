//! Case 40 and the invariants of the sample domain under concurrency: many
//! orders at once against one account holding less than their total. No
//! balance goes negative, and paid orders, captured charges and ledger
//! debits are the same set, amount for amount.

use std::collections::{HashMap, HashSet};

use futures_util::future::join_all;
use mesh_proto::{accounts::v1::EntryKind, orders::v1::OrderStatus, payments::v1::PaymentStatus};

use crate::fixture::{self, create, order};

#[tokio::test]
async fn concurrent_orders_never_overdraw_and_every_paid_order_has_one_charge() {
    const ORDERS: usize = 40;
    const BALANCE: i64 = 20_000;
    let setup = fixture::start().await;
    let account = setup.funded_account("alice", "EUR", BALANCE).await;
    let clients: Vec<_> = (0..4).map(|_| setup.user("alice")).collect();

    // Amounts of 500..=1670: about 43 000 in all, more than twice the balance.
    let results = join_all((0..ORDERS).map(|i| {
        let mut client = clients[i % clients.len()].clone();
        let request = order(&account, 1, 500 + 30 * i as i64, &format!("k{i}"));
        async move { create(&mut client, request).await }
    }))
    .await;
    let orders: Vec<_> = results
        .into_iter()
        .map(|r| r.expect("every order gets an answer"))
        .collect();

    let paid: HashMap<&str, i64> = orders
        .iter()
        .filter(|o| o.status() == OrderStatus::Paid)
        .map(|o| (o.payment_id.as_str(), o.amount_minor))
        .collect();
    let declined = orders
        .iter()
        .filter(|o| o.status() == OrderStatus::Declined)
        .count();
    assert_eq!(paid.len() + declined, ORDERS, "every order settled");
    assert!(!paid.is_empty() && declined > 0, "{} paid", paid.len());
    assert!(
        orders
            .iter()
            .filter(|o| o.status() == OrderStatus::Declined)
            .all(|o| o.decline_reason == "insufficient funds")
    );

    let balance = setup.balance(&account).await;
    let spent: i64 = paid.values().sum();
    assert!(balance >= 0);
    assert_eq!(balance, BALANCE - spent);

    let captured: HashMap<String, i64> = setup
        .payments()
        .await
        .into_iter()
        .filter(|p| p.status() == PaymentStatus::Captured)
        .map(|p| (p.payment_id, p.amount_minor))
        .collect();
    let debits: HashMap<String, i64> = setup
        .ledger(&account)
        .await
        .into_iter()
        .filter(|e| e.kind() == EntryKind::Debit)
        .map(|e| (e.reference, -e.amount_minor))
        .collect();
    let paid: HashMap<String, i64> = paid.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    assert_eq!(captured, paid, "captured charges are the paid orders");
    assert_eq!(debits, paid, "ledger debits are the paid orders");
    let ids: HashSet<&String> = paid.keys().collect();
    assert_eq!(ids.len(), paid.len());
}
