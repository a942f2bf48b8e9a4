//! Accounts: opening, reading, listing and freezing.

use mesh_proto::accounts::v1::{Account, AccountStatus};

use super::{Store, new_id, now};
use mesh::paging::Page;

use crate::Error;

/// One row of `accounts`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct AccountRow {
    pub(crate) id: String,
    pub(crate) owner: String,
    pub(crate) currency: String,
    pub(crate) balance_minor: i64,
    pub(crate) status: String,
    pub(crate) created_at: String,
}

impl AccountRow {
    /// Whether debits, credits and deposits are refused.
    pub(crate) fn is_frozen(&self) -> bool {
        self.status == "FROZEN"
    }

    /// The account as the API shows it.
    pub(crate) fn into_proto(self) -> Account {
        let status = if self.is_frozen() {
            AccountStatus::Frozen
        } else {
            AccountStatus::Active
        };
        Account {
            account_id: self.id,
            owner: self.owner,
            currency: self.currency,
            balance_minor: self.balance_minor,
            status: status.into(),
            created_at: self.created_at,
        }
    }
}

/// The columns of [`AccountRow`], for `concat!`.
macro_rules! columns {
    () => {
        "id, owner, currency, balance_minor, status, created_at"
    };
}

impl Store {
    /// Opens an empty, active account for `owner`.
    pub(crate) async fn open_account(
        &self,
        owner: &str,
        currency: &str,
    ) -> Result<AccountRow, Error> {
        let row = AccountRow {
            id: new_id(),
            owner: owner.to_owned(),
            currency: currency.to_owned(),
            balance_minor: 0,
            status: "ACTIVE".to_owned(),
            created_at: now(),
        };
        sqlx::query(
            "INSERT INTO accounts (id, owner, currency, balance_minor, status, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&row.id)
        .bind(&row.owner)
        .bind(&row.currency)
        .bind(row.balance_minor)
        .bind(&row.status)
        .bind(&row.created_at)
        .execute(&self.pool)
        .await?;
        Ok(row)
    }

    /// The account `id`, if it exists.
    pub(crate) async fn account(&self, id: &str) -> Result<Option<AccountRow>, Error> {
        let sql = concat!("SELECT ", columns!(), " FROM accounts WHERE id = $1");
        Ok(sqlx::query_as(sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// A page of accounts in id order, of one owner or of all.
    pub(crate) async fn accounts(
        &self,
        owner: Option<&str>,
        page: &Page,
    ) -> Result<Vec<AccountRow>, Error> {
        // NULL parameters switch a filter off, so one statement serves all cases.
        let sql = concat!(
            "SELECT ",
            columns!(),
            " FROM accounts
             WHERE ($1 IS NULL OR owner = $1) AND ($2 IS NULL OR id > $2)
             ORDER BY id LIMIT $3"
        );
        Ok(sqlx::query_as(sql)
            .bind(owner)
            .bind(page.after.as_deref())
            .bind(page.fetch())
            .fetch_all(&self.pool)
            .await?)
    }

    /// Freezes account `id` (again, if it already is) and returns it.
    pub(crate) async fn freeze(&self, id: &str) -> Result<Option<AccountRow>, Error> {
        let sql = concat!(
            "UPDATE accounts SET status = 'FROZEN' WHERE id = $1 RETURNING ",
            columns!()
        );
        Ok(sqlx::query_as(sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }
}
