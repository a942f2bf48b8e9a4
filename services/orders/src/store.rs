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

pub(crate) use orders::{NewOrder, OrderRow, State};

pub(crate) use mesh::store::new_id;
use mesh::store::now;

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
        mesh::store::begin_write(&self.pool).await
    }
}
