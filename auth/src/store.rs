//! The auth service's SQLite database: refresh token families, revoked
//! access tokens, the revocation feed workloads follow, and signing key
//! metadata.
//!
//! One pool, WAL journaling (readers never wait for the writer), a busy
//! timeout (writers queue instead of failing), foreign keys on, and the
//! migrations in `auth/migrations` applied at open. Queries are plain
//! `sqlx::query` with bound parameters; every value from a request is bound,
//! never formatted into SQL.

mod client_secrets;
mod feed;
mod keys;
mod refresh;
mod revoked;

use std::{
    fs,
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
    time::Duration,
};

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub(crate) use client_secrets::SecretRow;
pub(crate) use keys::KeyRow;
pub(crate) use refresh::{NewFamily, NewRefresh, RefreshRecord, Rotation};

/// The database file in the data directory.
const DB_FILE: &str = "auth.db";

/// A handle on the database. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    pool: SqlitePool,
}

impl Store {
    /// Opens (creating if needed, mode 0600) the database in `data_dir` and
    /// applies pending migrations.
    pub(crate) async fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let path = data_dir.join(DB_FILE);
        let open_err = |e: &dyn std::fmt::Display| StoreError::Open(path.clone(), e.to_string());
        if !path.exists() {
            // SQLite would create it world-readable under the usual umask;
            // its -wal and -shm files take the database file's mode.
            fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(&path)
                .map_err(|e| open_err(&e))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|e| open_err(&e))?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|e| open_err(&e))?;
        Ok(Self { pool })
    }

    /// Deletes refresh families and revocation records that have expired.
    pub(crate) async fn prune(&self, now: i64) -> Result<u64, sqlx::Error> {
        let families = sqlx::query("DELETE FROM refresh_families WHERE expires_at <= ?")
            .bind(now)
            .execute(&self.pool)
            .await?
            .rows_affected();
        let revoked = sqlx::query("DELETE FROM revoked_tokens WHERE expires_at <= ?")
            .bind(now)
            .execute(&self.pool)
            .await?
            .rows_affected();
        let feed = sqlx::query("DELETE FROM revocation_feed WHERE expires_at <= ?")
            .bind(now)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(families + revoked + feed)
    }
}

/// Why the database cannot be used at start-up.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("--data-dir: cannot open the database {0}: {1}")]
    Open(PathBuf, String),
    #[error("database: {0}")]
    Query(#[from] sqlx::Error),
}
