//! Refunds: recorded PENDING (taking the payment's one refund slot) before
//! the account is credited, then DONE, or REFUSED (freeing the slot).

use super::{Store, charges::columns, new_id, now};
use crate::{
    Error,
    store::{PaymentRow, State},
};

/// Where a refund stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefundState {
    /// Recorded; the credit has not been answered yet.
    Pending,
    /// The account was credited and the payment is REFUNDED.
    Done,
    /// The account refused the credit; the payment stays CAPTURED.
    Refused,
}

/// One row of `refunds`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct RefundRow {
    pub(crate) id: String,
    /// Whose key it is (see `Caller::idempotency_scope`); '' before keys were scoped.
    pub(crate) scope: String,
    pub(crate) idempotency_key: String,
    pub(crate) payment_id: String,
    status: String,
    /// Why the account refused the credit.
    pub(crate) refusal: String,
    /// When the refund last changed (RFC 3339).
    pub(crate) updated_at: String,
}

/// The columns of [`RefundRow`].
macro_rules! refund_columns {
    () => {
        "id, scope, idempotency_key, payment_id, status, refusal, updated_at"
    };
}

impl RefundRow {
    /// Where the refund stands.
    pub(crate) fn state(&self) -> Result<RefundState, Error> {
        Ok(match self.status.as_str() {
            "PENDING" => RefundState::Pending,
            "DONE" => RefundState::Done,
            "REFUSED" => RefundState::Refused,
            other => return Err(Error::Corrupt(format!("refund status '{other}'"))),
        })
    }
}

/// What starting a refund needs of the payment.
#[derive(Debug, sqlx::FromRow)]
struct Slot {
    status: String,
    refund_id: Option<String>,
}

impl Store {
    /// The refund recorded under idempotency key `key` in `scope` (or
    /// before keys were scoped), if any.
    pub(crate) async fn refund_by_key(
        &self,
        scope: &str,
        key: &str,
    ) -> Result<Option<RefundRow>, Error> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            refund_columns!(),
            " FROM refunds WHERE idempotency_key = $1 AND scope IN ($2, '')"
        ))
        .bind(key)
        .bind(scope)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Up to `limit` refunds recorded but not settled, oldest first.
    pub(crate) async fn pending_refunds(&self, limit: i64) -> Result<Vec<RefundRow>, Error> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            refund_columns!(),
            " FROM refunds WHERE status = 'PENDING' ORDER BY id LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Records a refund of `payment_id` under `key` in `scope`, if the
    /// payment is captured and no other refund of it is under way or done.
    pub(crate) async fn start_refund(
        &self,
        payment_id: &str,
        scope: &str,
        key: &str,
        reason: &str,
        requested_by: &str,
    ) -> Result<RefundRow, Error> {
        let mut tx = self.begin_write().await?;
        let slot: Slot = sqlx::query_as("SELECT status, refund_id FROM payments WHERE id = $1")
            .bind(payment_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(Error::NotFound)?;
        match (State::parse(&slot.status)?, slot.refund_id) {
            (State::Captured, None) => {}
            (State::Captured, Some(_)) => {
                return Err(Error::InProgress("a refund of this payment"));
            }
            (State::Refunded, _) => {
                return Err(Error::Refused(
                    "the payment was already refunded".to_owned(),
                ));
            }
            (State::Pending, _) => return Err(Error::InProgress("the charge of this payment")),
            (State::Declined, _) => {
                return Err(Error::Refused(
                    "a declined payment has nothing to refund".to_owned(),
                ));
            }
        }
        let now = now();
        let refund: RefundRow = sqlx::query_as(concat!(
            "INSERT INTO refunds
                 (id, scope, idempotency_key, payment_id, reason, requested_by, status, refusal,
                  created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, 'PENDING', '', $7, $7)
             RETURNING ",
            refund_columns!()
        ))
        .bind(new_id())
        .bind(scope)
        .bind(key)
        .bind(payment_id)
        .bind(reason)
        .bind(requested_by)
        .bind(&now)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("UPDATE payments SET refund_id = $1, updated_at = $2 WHERE id = $3")
            .bind(&refund.id)
            .bind(&now)
            .bind(payment_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(refund)
    }

    /// Marks `refund` done and its payment REFUNDED.
    pub(crate) async fn finish_refund(&self, refund: &RefundRow) -> Result<PaymentRow, Error> {
        let mut tx = self.begin_write().await?;
        let now = now();
        sqlx::query("UPDATE refunds SET status = 'DONE', updated_at = $1 WHERE id = $2")
            .bind(&now)
            .bind(&refund.id)
            .execute(&mut *tx)
            .await?;
        let payment = sqlx::query_as(concat!(
            "UPDATE payments SET status = 'REFUNDED', updated_at = $1 WHERE id = $2 RETURNING ",
            columns!()
        ))
        .bind(&now)
        .bind(&refund.payment_id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(payment)
    }

    /// Marks `refund` refused for `refusal` and frees its payment's refund slot.
    pub(crate) async fn refuse_refund(
        &self,
        refund: &RefundRow,
        refusal: &str,
    ) -> Result<(), Error> {
        let mut tx = self.begin_write().await?;
        let now = now();
        sqlx::query(
            "UPDATE refunds SET status = 'REFUSED', refusal = $1, updated_at = $2 WHERE id = $3",
        )
        .bind(refusal)
        .bind(&now)
        .bind(&refund.id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE payments SET refund_id = NULL, updated_at = $1
             WHERE id = $2 AND refund_id = $3",
        )
        .bind(&now)
        .bind(&refund.payment_id)
        .bind(&refund.id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
