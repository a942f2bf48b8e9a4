//! Case 40: concurrent debits adding up to more than the balance never
//! make it negative; exactly as many succeed as the money allows.

use futures_util::future::join_all;
use mesh_proto::accounts::v1::EntryKind;
use tonic::Code;

use crate::fixture::{self, balance, debit, deposit, ledger, open};

#[tokio::test]
async fn concurrent_debits_never_overdraw() {
    const DEPOSIT: i64 = 10_000;
    const DEBIT: i64 = 700;
    const DEBITS: usize = 40;
    let setup = fixture::start().await;
    let mut alice = setup.user("alice");
    let account = open(&mut alice, "EUR").await;
    let id = account.account_id.as_str();
    deposit(&mut setup.manager(), id, DEPOSIT, "d")
        .await
        .expect("deposit");

    // A few connections, as payments would use, many calls on each.
    let clients: Vec<_> = (0..4).map(|_| setup.payments("alice")).collect();
    let results = join_all((0..DEBITS).map(|i| {
        let mut client = clients[i % clients.len()].clone();
        async move { debit(&mut client, id, DEBIT, &format!("p{i}")).await }
    }))
    .await;

    let taken = results.iter().filter(|r| r.is_ok()).count() as i64;
    for refused in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    }
    assert_eq!(taken, DEPOSIT / DEBIT, "as many debits as the money allows");
    let left = balance(&setup, id).await;
    assert_eq!(left, DEPOSIT - taken * DEBIT);
    assert!(left >= 0);

    let entries = ledger(&mut alice, id).await;
    let debits = entries
        .iter()
        .filter(|e| e.kind() == EntryKind::Debit)
        .count() as i64;
    assert_eq!(debits, taken);
    assert_eq!(entries.iter().map(|e| e.amount_minor).sum::<i64>(), left);
    assert!(entries.iter().all(|e| e.balance_after_minor >= 0));
}
