//! Charges: recorded PENDING before the account is debited, then settled
//! once as CAPTURED or DECLINED; REFUNDED after a refund.

use mesh_proto::payments::v1::{Payment, PaymentStatus};

use super::{Store, new_id, now};
use mesh::paging::Page;

use crate::Error;

/// Where a payment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Recorded; the debit has not been answered yet.
    Pending,
    /// The account was debited.
    Captured,
    /// The account could not or may not pay.
    Declined,
    /// Captured, then credited back.
    Refunded,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Captured => "CAPTURED",
            Self::Declined => "DECLINED",
            Self::Refunded => "REFUNDED",
        }
    }

    pub(super) fn parse(s: &str) -> Result<Self, Error> {
        Ok(match s {
            "PENDING" => Self::Pending,
            "CAPTURED" => Self::Captured,
            "DECLINED" => Self::Declined,
            "REFUNDED" => Self::Refunded,
            other => return Err(Error::Corrupt(format!("payment status '{other}'"))),
        })
    }
}

/// A validated charge request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NewCharge<'a> {
    pub(crate) key: &'a str,
    pub(crate) account_id: &'a str,
    /// Positive minor units.
    pub(crate) amount_minor: i64,
    pub(crate) currency: &'a str,
    pub(crate) reference: &'a str,
}

/// One row of `payments`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct PaymentRow {
    pub(crate) id: String,
    /// Whose key it is (see `Caller::idempotency_scope`); '' before keys were scoped.
    scope: String,
    idempotency_key: String,
    pub(crate) account_id: String,
    pub(crate) owner: String,
    pub(crate) amount_minor: i64,
    pub(crate) currency: String,
    reference: String,
    status: String,
    decline_reason: String,
    created_at: String,
    updated_at: String,
}

impl PaymentRow {
    /// Where the payment stands.
    pub(crate) fn state(&self) -> Result<State, Error> {
        State::parse(&self.status)
    }

    /// The idempotency key of the charge.
    pub(crate) fn idempotency_key(&self) -> &str {
        &self.idempotency_key
    }

    /// The scope of its idempotency key.
    pub(crate) fn scope(&self) -> &str {
        &self.scope
    }

    /// When the payment last changed (RFC 3339).
    pub(crate) fn updated_at(&self) -> &str {
        &self.updated_at
    }

    /// Whether `charge` is the request this payment was recorded for.
    pub(crate) fn is_for(&self, charge: &NewCharge<'_>) -> bool {
        self.idempotency_key == charge.key
            && self.account_id == charge.account_id
            && self.amount_minor == charge.amount_minor
            && self.currency == charge.currency
            && self.reference == charge.reference
    }

    /// The payment as the API shows it. A pending payment has no status
    /// of its own in the API: it shows as UNSPECIFIED until settled.
    pub(crate) fn into_proto(self) -> Payment {
        let status = match State::parse(&self.status) {
            Ok(State::Captured) => PaymentStatus::Captured,
            Ok(State::Declined) => PaymentStatus::Declined,
            Ok(State::Refunded) => PaymentStatus::Refunded,
            Ok(State::Pending) | Err(_) => PaymentStatus::Unspecified,
        };
        Payment {
            payment_id: self.id,
            account_id: self.account_id,
            owner: self.owner,
            amount_minor: self.amount_minor,
            currency: self.currency,
            status: status.into(),
            decline_reason: self.decline_reason,
            reference: self.reference,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// The columns of [`PaymentRow`], for `concat!`.
macro_rules! columns {
    () => {
        "id, scope, idempotency_key, account_id, owner, amount_minor, currency, reference, \
         status, decline_reason, refund_id, created_at, updated_at"
    };
}
pub(super) use columns;

impl Store {
    /// The charge recorded under idempotency key `key` in `scope` (or
    /// before keys were scoped), if any.
    pub(crate) async fn charge_by_key(
        &self,
        scope: &str,
        key: &str,
    ) -> Result<Option<PaymentRow>, Error> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            columns!(),
            " FROM payments WHERE idempotency_key = $1 AND scope IN ($2, '')"
        ))
        .bind(key)
        .bind(scope)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Payment `id`, if it exists.
    pub(crate) async fn payment(&self, id: &str) -> Result<Option<PaymentRow>, Error> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            columns!(),
            " FROM payments WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Records `charge` under its key in `scope`, for the account of
    /// `owner`, in `state`.
    pub(crate) async fn insert_charge(
        &self,
        scope: &str,
        charge: &NewCharge<'_>,
        owner: &str,
        state: State,
        decline_reason: &str,
    ) -> Result<PaymentRow, Error> {
        let now = now();
        Ok(sqlx::query_as(concat!(
            "INSERT INTO payments (",
            columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, $11, $11) RETURNING ",
            columns!()
        ))
        .bind(new_id())
        .bind(scope)
        .bind(charge.key)
        .bind(charge.account_id)
        .bind(owner)
        .bind(charge.amount_minor)
        .bind(charge.currency)
        .bind(charge.reference)
        .bind(state.as_str())
        .bind(decline_reason)
        .bind(&now)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Settles pending payment `id` as `state` (CAPTURED or DECLINED).
    pub(crate) async fn settle(
        &self,
        id: &str,
        state: State,
        decline_reason: &str,
    ) -> Result<PaymentRow, Error> {
        let settled: Option<PaymentRow> = sqlx::query_as(concat!(
            "UPDATE payments SET status = $1, decline_reason = $2, updated_at = $3
             WHERE id = $4 AND status = 'PENDING' RETURNING ",
            columns!()
        ))
        .bind(state.as_str())
        .bind(decline_reason)
        .bind(now())
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        match settled {
            Some(row) => Ok(row),
            // Settled already: the first outcome stands.
            None => self
                .payment(id)
                .await?
                .ok_or_else(|| Error::Corrupt(format!("payment {id} vanished"))),
        }
    }

    /// Up to `limit` charges recorded but not settled, oldest first.
    pub(crate) async fn pending_charges(&self, limit: i64) -> Result<Vec<PaymentRow>, Error> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            columns!(),
            " FROM payments WHERE status = 'PENDING' ORDER BY id LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// A page of payments, newest first, of one owner or of all.
    pub(crate) async fn payments(
        &self,
        owner: Option<&str>,
        page: &Page,
    ) -> Result<Vec<PaymentRow>, Error> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            columns!(),
            " FROM payments
             WHERE ($1 IS NULL OR owner = $1) AND ($2 IS NULL OR id < $2)
             ORDER BY id DESC LIMIT $3"
        ))
        .bind(owner)
        .bind(page.after.as_deref())
        .bind(page.fetch())
        .fetch_all(&self.pool)
        .await?)
    }
}
