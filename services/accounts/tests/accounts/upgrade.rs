//! Case 50 across the upgrade that scoped idempotency keys: a deposit
//! recorded before it (scope '') still answers its retry, once.

use mesh::testing::sqlite_at_version;

use crate::fixture::{self, balance, deposit};

/// The last migration before keys were scoped.
const UNSCOPED: i64 = 20261201000001;

const ACCOUNT: &str = "01a20000-0000-7000-8000-00000000000a";
const ENTRY: &str = "01a20000-0000-7000-8000-0000000000e1";

/// Alice's account with one deposit of 500 under key `d-1`, as the
/// unscoped schema stored it.
const ROWS: &str = "
INSERT INTO accounts VALUES
 ('01a20000-0000-7000-8000-00000000000a', 'alice', 'EUR', 500, 'ACTIVE', '2026-12-01T00:00:00Z');
INSERT INTO ledger_entries VALUES
 ('01a20000-0000-7000-8000-0000000000e1', '01a20000-0000-7000-8000-00000000000a', 'DEPOSIT',
  500, 'EUR', 500, 'd-1', '2026-12-01T00:00:00Z');
INSERT INTO money_requests VALUES
 ('DEPOSIT', 'd-1', '01a20000-0000-7000-8000-00000000000a', 500, 'EUR',
  '01a20000-0000-7000-8000-0000000000e1', NULL, '2026-12-01T00:00:00Z');
";

#[tokio::test]
async fn case_50_a_deposit_recorded_before_keys_were_scoped_still_replays() {
    let setup = fixture::start_in(async |dir| {
        let migrations = sqlx::migrate!("./migrations");
        sqlite_at_version(dir, "accounts.db", &migrations, UNSCOPED, ROWS).await;
    })
    .await;
    let retry = deposit(&mut setup.manager(), ACCOUNT, 500, "d-1")
        .await
        .expect("the recorded deposit");
    assert_eq!(retry.entry_id, ENTRY);
    assert_eq!(balance(&setup, ACCOUNT).await, 500, "one effect");
    deposit(&mut setup.manager(), ACCOUNT, 100, "d-2")
        .await
        .expect("a new key");
    assert_eq!(balance(&setup, ACCOUNT).await, 600);
}
