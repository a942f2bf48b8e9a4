//! Opening a workload's own database, the same way in every workload.
//!
//! Today that is an embedded SQLite file in the workload's data directory:
//! WAL journaling (readers never wait for the writer), `synchronous=FULL`
//! (a committed transaction survives a power cut), a busy timeout (writers
//! queue instead of failing), foreign keys on, the file owner-only whatever
//! the umask, and the caller's migrations applied at open. It lives in the
//! kit so these settings are chosen once; a server database (Postgres)
//! would be a second opener here returning its own pool, leaving the
//! services' plain `$n`-bound SQL as it is.

use std::{
    fs,
    os::unix::fs::{DirBuilderExt, OpenOptionsExt},
    path::{Path, PathBuf},
    time::Duration,
};

use sqlx::{
    migrate::Migrator,
    sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
    },
};

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
