//! The orders database: orders and their items, each state written before
//! the remote call that moves the order on.
//!
//! SQLite by default: WAL journaling (readers never wait for the writer),
//! a busy timeout (writers queue instead of failing) and the migrations in
//! `services/orders/migrations` applied at open. The SQL is plain and
//! binds every value as `$n`, which SQLite and Postgres both accept; the
//! SQLite-specific parts are [`Store::open`] and [`Store::begin_write`].

mod orders;

use std::{fs, os::unix::fs::DirBuilderExt, os::unix::fs::OpenOptionsExt, path::Path};

use sqlx::{
    Sqlite, Transaction,
    sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
    },
};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

pub(crate) use orders::{NewOrder, OrderRow, State};

use crate::Error;

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
        let path = dir.join(DB_FILE);
        let open = |source: Box<dyn std::error::Error + Send + Sync>| Error::Open {
            path: path.clone(),
            source,
        };
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| open(e.into()))?;
        // Created here so the file (and its -wal and -shm, which copy its
        // mode) is owner-only whatever the umask.
        fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| open(e.into()))?;
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(std::time::Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .map_err(|e| open(e.into()))?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|e| open(e.into()))?;
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
