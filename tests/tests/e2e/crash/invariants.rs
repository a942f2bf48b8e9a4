//! What must hold after the chaos (case 42), read from each service's own
//! records: one order per key, each settled once where its client saw it;
//! one charge per order, of its amount; and money that adds up, per
//! account and in all.

use std::collections::HashMap;

use mesh_proto::{
    accounts::v1::{EntryKind, GetAccountRequest},
    orders::v1::{Order, OrderStatus},
    payments::v1::{Payment, PaymentStatus},
};

use super::{
    DEPOSIT, Outcome, STAFF, USERS,
    client::{self, Clients, retry},
    cluster::Cluster,
    records::{all_payments, ledger},
};

/// `payments` by the order they pay (their `reference`), checking that
/// each pays an order of `by_id` and that no order has two.
pub(crate) fn one_charge_per_order<'a>(
    payments: &'a [Payment],
    by_id: &HashMap<&str, &Order>,
) -> HashMap<&'a str, Vec<&'a Payment>> {
    let mut by_order: HashMap<&str, Vec<&Payment>> = HashMap::new();
    for payment in payments {
        by_order
            .entry(payment.reference.as_str())
            .or_default()
            .push(payment);
    }
    for (order_id, charges) in &by_order {
        assert!(
            by_id.contains_key(order_id),
            "a payment without an order: {charges:?}"
        );
        assert_eq!(charges.len(), 1, "one charge per order: {charges:?}");
    }
    by_order
}

/// The money `payments` moved on `account`: (taken by charges that were
/// captured, even if later refunded; given back by refunds).
pub(crate) fn moved(payments: &[Payment], account: &str) -> (i64, i64) {
    let ours = payments.iter().filter(|p| p.account_id == account);
    let taken = ours
        .clone()
        .filter(|p| {
            matches!(
                p.status(),
                PaymentStatus::Captured | PaymentStatus::Refunded
            )
        })
        .map(|p| p.amount_minor)
        .sum();
    let given = ours
        .filter(|p| p.status() == PaymentStatus::Refunded)
        .map(|p| p.amount_minor)
        .sum();
    (taken, given)
}

/// The invariants of case 42, from each service's own records.
pub(super) async fn check(
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
    let payments = all_payments(&clients.payments("maria", STAFF, cluster.addr("payments"))).await;
    for payment in &payments {
        assert_ne!(
            payment.status(),
            PaymentStatus::Unspecified,
            "unsettled: {payment:?}"
        );
    }
    let by_order = one_charge_per_order(&payments, &by_id);
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
        let (taken, given) = moved(&payments, account);
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
        client::RETRIES.load(std::sync::atomic::Ordering::Relaxed),
    );
}
