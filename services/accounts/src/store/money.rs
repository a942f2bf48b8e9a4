//! Money moves and the ledger. A deposit, debit or credit is one
//! transaction that checks the account, changes its balance, appends a
//! ledger entry and records the request with its answer, so a retry
//! (same key, same request) is answered from the record and moves nothing.
//! A key belongs to its caller's scope: another caller's same key is
//! another request.

use mesh_proto::accounts::v1::{EntryKind, LedgerEntry};

use super::{Store, new_id, now};
use mesh::paging::Page;

use crate::{Error, Refusal};

/// What a money request does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Staff adding money, idempotent per client key.
    Deposit,
    /// A charge taking money, idempotent per payment id.
    Debit,
    /// A refund giving money back, idempotent per refund id.
    Credit,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Deposit => "DEPOSIT",
            Self::Debit => "DEBIT",
            Self::Credit => "CREDIT",
        }
    }

    /// The request field that holds the idempotency reference.
    pub(crate) fn reference_field(self) -> &'static str {
        match self {
            Self::Deposit => "idempotency_key",
            Self::Debit => "payment_id",
            Self::Credit => "refund_id",
        }
    }

    /// Debit and credit refusals are remembered: `payments` decides a
    /// charge by the first answer, so a late retry must not get another.
    /// A refused deposit writes nothing; its key stays free.
    fn records_refusals(self) -> bool {
        self != Self::Deposit
    }

    /// The balance change of `amount` (positive) minor units.
    fn signed(self, amount: i64) -> i64 {
        match self {
            Self::Debit => -amount,
            Self::Deposit | Self::Credit => amount,
        }
    }
}

/// A validated deposit, debit or credit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MoneyRequest<'a> {
    pub(crate) kind: Kind,
    /// Whose key `reference` is (see `Caller::idempotency_scope`).
    pub(crate) scope: &'a str,
    /// A debit's payer: the subject the account must belong to. `None`
    /// for deposits and credits, and for a workload finishing a charge its
    /// payer authorized earlier.
    pub(crate) payer: Option<&'a str>,
    /// Idempotency key, payment id or refund id.
    pub(crate) reference: &'a str,
    pub(crate) account_id: &'a str,
    /// Positive minor units.
    pub(crate) amount_minor: i64,
    pub(crate) currency: &'a str,
}

/// One row of `ledger_entries`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct EntryRow {
    id: String,
    account_id: String,
    kind: String,
    amount_minor: i64,
    currency: String,
    balance_after_minor: i64,
    reference: String,
    created_at: String,
}

impl EntryRow {
    /// The entry's id, for paging.
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// The entry as the API shows it.
    pub(crate) fn into_proto(self) -> LedgerEntry {
        let kind = match self.kind.as_str() {
            "DEPOSIT" => EntryKind::Deposit,
            "DEBIT" => EntryKind::Debit,
            "CREDIT" => EntryKind::Credit,
            _ => EntryKind::Unspecified,
        };
        LedgerEntry {
            entry_id: self.id,
            account_id: self.account_id,
            kind: kind.into(),
            amount_minor: self.amount_minor,
            currency: self.currency,
            balance_after_minor: self.balance_after_minor,
            reference: self.reference,
            created_at: self.created_at,
        }
    }
}

/// A request recorded earlier under the same kind and reference.
#[derive(Debug, sqlx::FromRow)]
struct Recorded {
    account_id: String,
    amount_minor: i64,
    currency: String,
    entry_id: Option<String>,
    refusal: Option<String>,
}

/// What the transaction needs of the account.
#[derive(Debug, sqlx::FromRow)]
struct Balance {
    owner: String,
    balance_minor: i64,
    currency: String,
    status: String,
}

macro_rules! entry_columns {
    () => {
        "id, account_id, kind, amount_minor, currency, balance_after_minor, reference, created_at"
    };
}

impl Store {
    /// Applies `request` once: the first time it moves money (or is refused),
    /// every retry gets that same answer.
    pub(crate) async fn apply(&self, request: &MoneyRequest<'_>) -> Result<EntryRow, Error> {
        let mut tx = self.begin_write().await?;
        let recorded: Option<Recorded> = sqlx::query_as(
            "SELECT account_id, amount_minor, currency, entry_id, refusal
             FROM money_requests WHERE kind = $1 AND reference = $2 AND scope IN ($3, '')",
        )
        .bind(request.kind.as_str())
        .bind(request.reference)
        .bind(request.scope)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(recorded) = recorded {
            return replay(request, recorded, &mut tx).await;
        }

        let account: Option<Balance> = sqlx::query_as(
            "SELECT owner, balance_minor, currency, status FROM accounts WHERE id = $1",
        )
        .bind(request.account_id)
        .fetch_optional(&mut *tx)
        .await?;
        let created_at = now();
        let balance_after = match decide(account.as_ref(), request) {
            Ok(balance) => balance,
            Err(refusal) => {
                if request.kind.records_refusals() {
                    record(&mut tx, request, None, Some(refusal), &created_at).await?;
                    tx.commit().await?;
                }
                return Err(refusal.into());
            }
        };
        sqlx::query("UPDATE accounts SET balance_minor = $1 WHERE id = $2")
            .bind(balance_after)
            .bind(request.account_id)
            .execute(&mut *tx)
            .await?;
        let entry = EntryRow {
            id: new_id(),
            account_id: request.account_id.to_owned(),
            kind: request.kind.as_str().to_owned(),
            amount_minor: request.kind.signed(request.amount_minor),
            currency: request.currency.to_owned(),
            balance_after_minor: balance_after,
            reference: request.reference.to_owned(),
            created_at: created_at.clone(),
        };
        sqlx::query(concat!(
            "INSERT INTO ledger_entries (",
            entry_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(&entry.id)
        .bind(&entry.account_id)
        .bind(&entry.kind)
        .bind(entry.amount_minor)
        .bind(&entry.currency)
        .bind(entry.balance_after_minor)
        .bind(&entry.reference)
        .bind(&entry.created_at)
        .execute(&mut *tx)
        .await?;
        record(&mut tx, request, Some(&entry.id), None, &created_at).await?;
        tx.commit().await?;
        Ok(entry)
    }

    /// A page of the ledger of `account_id`, newest first.
    pub(crate) async fn entries(
        &self,
        account_id: &str,
        page: &Page,
    ) -> Result<Vec<EntryRow>, Error> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            entry_columns!(),
            " FROM ledger_entries
             WHERE account_id = $1 AND ($2 IS NULL OR id < $2)
             ORDER BY id DESC LIMIT $3"
        ))
        .bind(account_id)
        .bind(page.after.as_deref())
        .bind(page.fetch())
        .fetch_all(&self.pool)
        .await?)
    }
}

/// The first answer to a request seen before, if this is the same request.
async fn replay(
    request: &MoneyRequest<'_>,
    recorded: Recorded,
    tx: &mut sqlx::SqliteConnection,
) -> Result<EntryRow, Error> {
    if recorded.account_id != request.account_id
        || recorded.amount_minor != request.amount_minor
        || recorded.currency != request.currency
    {
        return Err(Error::KeyReused(request.kind.reference_field()));
    }
    match (recorded.entry_id, recorded.refusal) {
        (Some(entry_id), _) => sqlx::query_as(concat!(
            "SELECT ",
            entry_columns!(),
            " FROM ledger_entries WHERE id = $1"
        ))
        .bind(&entry_id)
        .fetch_optional(tx)
        .await?
        .ok_or_else(|| Error::Corrupt(format!("ledger entry {entry_id} is missing"))),
        (None, Some(refusal)) => Err(refusal.parse::<Refusal>().map_err(Error::Corrupt)?.into()),
        (None, None) => Err(Error::Corrupt(
            "a money request without an answer".to_owned(),
        )),
    }
}

/// Records `request` with its answer: the entry it wrote or why it was refused.
async fn record(
    tx: &mut sqlx::SqliteConnection,
    request: &MoneyRequest<'_>,
    entry_id: Option<&str>,
    refusal: Option<Refusal>,
    created_at: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO money_requests
             (scope, kind, reference, account_id, amount_minor, currency, entry_id, refusal,
              created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(request.scope)
    .bind(request.kind.as_str())
    .bind(request.reference)
    .bind(request.account_id)
    .bind(request.amount_minor)
    .bind(request.currency)
    .bind(entry_id)
    .bind(refusal.map(Refusal::as_str))
    .bind(created_at)
    .execute(tx)
    .await?;
    Ok(())
}

/// The balance after `request`, or why the account refuses it.
fn decide(account: Option<&Balance>, request: &MoneyRequest<'_>) -> Result<i64, Refusal> {
    let account = account.ok_or(Refusal::NotFound)?;
    // Someone else's account is missing to a payer (case 47), whatever its state.
    if request.payer.is_some_and(|payer| payer != account.owner) {
        return Err(Refusal::NotFound);
    }
    if account.status == "FROZEN" {
        return Err(Refusal::Frozen);
    }
    if account.currency != request.currency {
        return Err(Refusal::CurrencyMismatch);
    }
    let after = account
        .balance_minor
        .checked_add(request.kind.signed(request.amount_minor))
        .ok_or(Refusal::Overflow)?;
    if after < 0 {
        return Err(Refusal::InsufficientFunds);
    }
    Ok(after)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(kind: Kind, amount_minor: i64) -> MoneyRequest<'static> {
        MoneyRequest {
            kind,
            scope: "s",
            payer: None,
            reference: "r",
            account_id: "a",
            amount_minor,
            currency: "EUR",
        }
    }

    fn account(balance_minor: i64, status: &str) -> Balance {
        Balance {
            owner: "alice".to_owned(),
            balance_minor,
            currency: "EUR".to_owned(),
            status: status.to_owned(),
        }
    }

    #[test]
    fn debits_never_go_below_zero() {
        let open = account(100, "ACTIVE");
        assert_eq!(decide(Some(&open), &request(Kind::Debit, 100)), Ok(0));
        assert_eq!(
            decide(Some(&open), &request(Kind::Debit, 101)),
            Err(Refusal::InsufficientFunds)
        );
    }

    #[test]
    fn case_47_a_debit_pays_only_from_its_payers_account() {
        let alices = account(100, "ACTIVE");
        let mut debit = request(Kind::Debit, 10);
        debit.payer = Some("maria");
        assert_eq!(decide(Some(&alices), &debit), Err(Refusal::NotFound));
        debit.payer = Some("alice");
        assert_eq!(decide(Some(&alices), &debit), Ok(90));
        let frozen = account(100, "FROZEN");
        debit.payer = Some("maria");
        assert_eq!(decide(Some(&frozen), &debit), Err(Refusal::NotFound));
    }

    #[test]
    fn frozen_missing_foreign_and_overflowing_are_refused() {
        let frozen = account(100, "FROZEN");
        assert_eq!(
            decide(Some(&frozen), &request(Kind::Credit, 1)),
            Err(Refusal::Frozen)
        );
        assert_eq!(
            decide(None, &request(Kind::Deposit, 1)),
            Err(Refusal::NotFound)
        );
        let mut usd = request(Kind::Deposit, 1);
        usd.currency = "USD";
        assert_eq!(
            decide(Some(&account(0, "ACTIVE")), &usd),
            Err(Refusal::CurrencyMismatch)
        );
        assert_eq!(
            decide(
                Some(&account(1, "ACTIVE")),
                &request(Kind::Deposit, i64::MAX)
            ),
            Err(Refusal::Overflow)
        );
    }
}
