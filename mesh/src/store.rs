//! Opening a workload's own database, the same way in every workload.
//!
//! Today that is an embedded SQLite file in the workload's data directory:
//! WAL journaling (readers never wait for the writer), `synchronous=FULL`
//! (a committed transaction survives a power cut), a busy timeout (writers
//! queue instead of failing), foreign keys on, the file owner-only whatever
//! the umask, and the caller's migrations applied at open. It lives in the
//! kit so these settings are chosen once, together with the conventions
//! every store follows: ids are UUIDv7 (they sort by creation time, which
//! is what [`crate::paging`] pages by) and times are RFC 3339 in UTC. A
//! server database (Postgres) would be a second opener here returning its
//! own pool, leaving the services' plain `$n`-bound SQL as it is.

use std::{
    fs,
    os::unix::fs::{DirBuilderExt, OpenOptionsExt},
    path::{Path, PathBuf},
    time::Duration,
};

use sqlx::{
    Sqlite, Transaction,
    migrate::Migrator,
    sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
    },
};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

/// How long a writer waits for the lock before its statement fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections in the pool.
const MAX_CONNECTIONS: u32 = 8;

/// Why the database could not be opened (at start-up).
#[derive(Debug, thiserror::Error)]
#[error("cannot open the database {path}: {source}")]
pub struct OpenError {
    /// The database file.
    pub path: PathBuf,
    /// What failed: the directory, the file, the connection or a migration.
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// Opens (creating if needed, owner-only) the SQLite database `file` in
/// `dir` and applies the pending migrations of `migrator`.
pub async fn open_sqlite(
    dir: &Path,
    file: &str,
    migrator: &Migrator,
) -> Result<SqlitePool, OpenError> {
    let path = dir.join(file);
    let open = |source: Box<dyn std::error::Error + Send + Sync>| OpenError {
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
        .busy_timeout(BUSY_TIMEOUT)
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .connect_with(options)
        .await
        .map_err(|e| open(e.into()))?;
    migrator.run(&pool).await.map_err(|e| open(e.into()))?;
    Ok(pool)
}

/// A transaction that holds the write lock from its first statement, so
/// what it reads cannot change before it writes. (On Postgres this is
/// `BEGIN` plus `SELECT ... FOR UPDATE` on the rows it reads.)
pub async fn begin_write(pool: &SqlitePool) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
    pool.begin_with("BEGIN IMMEDIATE").await
}

/// The current time as stored: RFC 3339 in UTC.
pub fn now() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .expect("the current time formats as RFC 3339")
}

/// A new id: UUIDv7, so ids sort by creation time and page in that order.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
