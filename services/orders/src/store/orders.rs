//! Orders and their items. Every change of state is a conditional update
//! from the state it leaves, so two drivers of one order (a retry and the
//! background resumer, or two processes after a crash) cannot both move it.

use std::collections::HashMap;

use mesh_proto::orders::v1::{Order, OrderItem, OrderStatus};
use sqlx::{QueryBuilder, Sqlite};

use super::{Store, now};
use mesh::paging::Page;

use crate::Error;

/// Where an order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Written; the charge has not been answered yet.
    Pending,
    /// Charged.
    Paid,
    /// The charge was declined.
    Declined,
    /// Cancelled while paid; the refund has not been answered yet.
    Cancelling,
    /// Cancelled and refunded.
    Cancelled,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Paid => "PAID",
            Self::Declined => "DECLINED",
            Self::Cancelling => "CANCELLING",
            Self::Cancelled => "CANCELLED",
        }
    }

    fn parse(s: &str) -> Result<Self, Error> {
        Ok(match s {
            "PENDING" => Self::Pending,
            "PAID" => Self::Paid,
            "DECLINED" => Self::Declined,
            "CANCELLING" => Self::Cancelling,
            "CANCELLED" => Self::Cancelled,
            other => return Err(Error::Corrupt(format!("order status '{other}'"))),
        })
    }

    /// As the API shows it: a cancellation under way is still paid.
    fn to_proto(self) -> OrderStatus {
        match self {
            Self::Pending => OrderStatus::Pending,
            Self::Paid | Self::Cancelling => OrderStatus::Paid,
            Self::Declined => OrderStatus::Declined,
            Self::Cancelled => OrderStatus::Cancelled,
        }
    }
}

/// A validated order, before it is written.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NewOrder<'a> {
    pub(crate) owner: &'a str,
    pub(crate) key: &'a str,
    pub(crate) request_hash: &'a str,
    pub(crate) account_id: &'a str,
    pub(crate) amount_minor: i64,
    pub(crate) currency: &'a str,
    pub(crate) items: &'a [OrderItem],
}

/// One row of `orders`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct OrderRow {
    pub(crate) id: String,
    pub(crate) owner: String,
    pub(crate) request_hash: String,
    pub(crate) account_id: String,
    pub(crate) amount_minor: i64,
    pub(crate) currency: String,
    status: String,
    pub(crate) payment_id: String,
    decline_reason: String,
    created_at: String,
    updated_at: String,
}

impl OrderRow {
    /// Where the order stands.
    pub(crate) fn state(&self) -> Result<State, Error> {
        State::parse(&self.status)
    }

    /// When the order last changed state (RFC 3339).
    pub(crate) fn updated_at(&self) -> &str {
        &self.updated_at
    }

    /// The order as the API shows it, with its `items`.
    pub(crate) fn into_proto(self, items: Vec<OrderItem>) -> Order {
        let status = State::parse(&self.status)
            .map(State::to_proto)
            .unwrap_or(OrderStatus::Unspecified);
        Order {
            order_id: self.id,
            owner: self.owner,
            account_id: self.account_id,
            items,
            amount_minor: self.amount_minor,
            currency: self.currency,
            status: status.into(),
            payment_id: self.payment_id,
            decline_reason: self.decline_reason,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// One row of `order_items`.
#[derive(Debug, sqlx::FromRow)]
struct ItemRow {
    order_id: String,
    sku: String,
    quantity: i32,
    unit_price_minor: i64,
}

/// The columns of [`OrderRow`], for `concat!`.
macro_rules! columns {
    () => {
        "id, owner, request_hash, account_id, amount_minor, currency, status, payment_id, \
         decline_reason, created_at, updated_at"
    };
}

impl Store {
    /// Writes `order` PENDING, with its items, under the new id `id`.
    pub(crate) async fn insert(&self, id: &str, order: &NewOrder<'_>) -> Result<OrderRow, Error> {
        let mut tx = self.begin_write().await?;
        let now = now();
        let row: OrderRow = sqlx::query_as(concat!(
            "INSERT INTO orders (idempotency_key, ",
            columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, 'PENDING', '', '', $8, $8) RETURNING ",
            columns!()
        ))
        .bind(order.key)
        .bind(id)
        .bind(order.owner)
        .bind(order.request_hash)
        .bind(order.account_id)
        .bind(order.amount_minor)
        .bind(order.currency)
        .bind(&now)
        .fetch_one(&mut *tx)
        .await?;
        for (position, item) in order.items.iter().enumerate() {
            sqlx::query(
                "INSERT INTO order_items (order_id, position, sku, quantity, unit_price_minor)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id)
            .bind(position as i64)
            .bind(&item.sku)
            .bind(item.quantity)
            .bind(item.unit_price_minor)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(row)
    }

    /// Order `id`, if it exists.
    pub(crate) async fn order(&self, id: &str) -> Result<Option<OrderRow>, Error> {
        Ok(
            sqlx::query_as(concat!("SELECT ", columns!(), " FROM orders WHERE id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// The order `owner` placed with idempotency key `key`, if any.
    pub(crate) async fn order_by_key(
        &self,
        owner: &str,
        key: &str,
    ) -> Result<Option<OrderRow>, Error> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            columns!(),
            " FROM orders WHERE owner = $1 AND idempotency_key = $2"
        ))
        .bind(owner)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// A page of orders, newest first, of one owner or of all.
    pub(crate) async fn orders(
        &self,
        owner: Option<&str>,
        page: &Page,
    ) -> Result<Vec<OrderRow>, Error> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            columns!(),
            " FROM orders
             WHERE ($1 IS NULL OR owner = $1) AND ($2 IS NULL OR id < $2)
             ORDER BY id DESC LIMIT $3"
        ))
        .bind(owner)
        .bind(page.after.as_deref())
        .bind(page.fetch())
        .fetch_all(&self.pool)
        .await?)
    }

    /// Up to `limit` orders whose saga has not finished, oldest first.
    pub(crate) async fn unfinished(&self, limit: i64) -> Result<Vec<OrderRow>, Error> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            columns!(),
            " FROM orders WHERE status IN ('PENDING', 'CANCELLING') ORDER BY id LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The items of each order in `ids`.
    pub(crate) async fn items(
        &self,
        ids: &[&str],
    ) -> Result<HashMap<String, Vec<OrderItem>>, Error> {
        let mut items: HashMap<String, Vec<OrderItem>> = HashMap::new();
        if ids.is_empty() {
            return Ok(items);
        }
        let mut query = QueryBuilder::<Sqlite>::new(
            "SELECT order_id, sku, quantity, unit_price_minor FROM order_items WHERE order_id IN (",
        );
        let mut list = query.separated(", ");
        for id in ids {
            list.push_bind(*id);
        }
        list.push_unseparated(") ORDER BY order_id, position");
        let rows: Vec<ItemRow> = query.build_query_as().fetch_all(&self.pool).await?;
        for row in rows {
            items.entry(row.order_id).or_default().push(OrderItem {
                sku: row.sku,
                quantity: row.quantity,
                unit_price_minor: row.unit_price_minor,
            });
        }
        Ok(items)
    }

    /// Moves order `id` from `from` to `to` (recording the payment and the
    /// decline reason, if given). `None` if the order was not in `from`:
    /// someone else moved it first.
    pub(crate) async fn transition(
        &self,
        id: &str,
        from: State,
        to: State,
        payment_id: Option<&str>,
        decline_reason: &str,
    ) -> Result<Option<OrderRow>, Error> {
        Ok(sqlx::query_as(concat!(
            "UPDATE orders
             SET status = $1, payment_id = COALESCE($2, payment_id), decline_reason = $3,
                 updated_at = $4
             WHERE id = $5 AND status = $6 RETURNING ",
            columns!()
        ))
        .bind(to.as_str())
        .bind(payment_id)
        .bind(decline_reason)
        .bind(now())
        .bind(id)
        .bind(from.as_str())
        .fetch_optional(&self.pool)
        .await?)
    }
}
