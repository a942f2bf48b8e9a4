//! The orders database: orders and their items, each state written before
//! the remote call that moves the order on.
//!
//! SQLite by default, opened by [`mesh::store::open_sqlite`] with the
//! migrations in `services/orders/migrations`. The SQL is plain and
//! binds every value as `$n`, which SQLite and Postgres both accept; the
//! SQLite-specific parts are [`Store::open`] and [`Store::begin_write`].

mod orders;

use std::path::Path;

use sqlx::{Sqlite, Transaction, migrate::Migrator, sqlite::SqlitePool};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

pub(crate) use orders::{NewOrder, OrderRow, State};

use crate::Error;

/// The migrations in `migrations/`, embedded at build time.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// The database file in the data directory.
const DB_FILE: &str = "orders.db";

/// A handle on the database. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    pool: SqlitePool,
}

impl Store {
    /// Opens (creating if needed, owner-only) the database in `dir` and
    /// applies pending migrations.
    pub(crate) async fn open(dir: &Path) -> Result<Self, Error> {
        let pool = mesh::store::open_sqlite(dir, DB_FILE, &MIGRATOR).await?;
        Ok(Self { pool })
    }

    /// A transaction that holds the write lock from its first statement, so
    /// what it reads cannot change before it writes. (On Postgres this is
    /// `BEGIN` plus `SELECT ... FOR UPDATE` on the order.)
    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        self.pool.begin_with("BEGIN IMMEDIATE").await
    }
}

/// The current time as stored: RFC 3339 in UTC.
fn now() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .expect("the current time formats as RFC 3339")
}

/// A new id: UUIDv7, so ids sort by creation time and page in that order.
pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
