//! Client secrets rotated at run time: one row per client, holding the
//! current hash and, while a rotation's grace period lasts, the previous
//! one. Read whole at start-up; written on every rotation.

use super::Store;

/// One client's rotated secrets, as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct SecretRow {
    pub(crate) client_id: String,
    pub(crate) current_hash: String,
    pub(crate) previous_hash: Option<String>,
    pub(crate) previous_expires_at: Option<i64>,
    /// The config's hash of the secret when this was written.
    pub(crate) config_hash: String,
}

impl Store {
    /// Every client's rotated secrets.
    pub(crate) async fn client_secrets(&self) -> Result<Vec<SecretRow>, sqlx::Error> {
        sqlx::query_as(
            "SELECT client_id, current_hash, previous_hash, previous_expires_at, config_hash \
             FROM client_secrets",
        )
        .fetch_all(&self.pool)
        .await
    }

    /// Records `row` as the client's secrets from `now` on.
    pub(crate) async fn save_client_secrets(
        &self,
        row: &SecretRow,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO client_secrets \
               (client_id, current_hash, previous_hash, previous_expires_at, rotated_at, config_hash) \
             VALUES (?, ?, ?, ?, ?, ?) \
             ON CONFLICT (client_id) DO UPDATE SET \
               current_hash = excluded.current_hash, \
               previous_hash = excluded.previous_hash, \
               previous_expires_at = excluded.previous_expires_at, \
               rotated_at = excluded.rotated_at, \
               config_hash = excluded.config_hash",
        )
        .bind(&row.client_id)
        .bind(&row.current_hash)
        .bind(&row.previous_hash)
        .bind(row.previous_expires_at)
        .bind(now)
        .bind(&row.config_hash)
        .execute(&self.pool)
        .await
        .map(drop)
    }
}
