//! Signing key metadata: the public JWK and the lifecycle times of each key.

use super::Store;

/// One row of `signing_keys`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub(crate) struct KeyRow {
    pub(crate) kid: String,
    pub(crate) alg: String,
    pub(crate) public_jwk: String,
    pub(crate) created_at: i64,
    pub(crate) activates_at: i64,
    pub(crate) signs_until: Option<i64>,
    pub(crate) published_until: Option<i64>,
}

impl Store {
    /// Every key, oldest first.
    pub(crate) async fn load_keys(&self) -> Result<Vec<KeyRow>, sqlx::Error> {
        sqlx::query_as(
            "SELECT kid, alg, public_jwk, created_at, activates_at, signs_until, published_until \
             FROM signing_keys ORDER BY activates_at, created_at",
        )
        .fetch_all(&self.pool)
        .await
    }

    /// Inserts or updates `rows` in one transaction, so a rotation (a new
    /// key and its predecessor's retirement) is stored whole or not at all.
    pub(crate) async fn save_keys(&self, rows: &[KeyRow]) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        for row in rows {
            sqlx::query(
                "INSERT INTO signing_keys \
                 (kid, alg, public_jwk, created_at, activates_at, signs_until, published_until) \
                 VALUES (?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (kid) DO UPDATE SET activates_at = excluded.activates_at, \
                 signs_until = excluded.signs_until, published_until = excluded.published_until",
            )
            .bind(&row.kid)
            .bind(&row.alg)
            .bind(&row.public_jwk)
            .bind(row.created_at)
            .bind(row.activates_at)
            .bind(row.signs_until)
            .bind(row.published_until)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    }

    /// Deletes the keys `kids` (no longer published).
    pub(crate) async fn delete_keys(&self, kids: &[String]) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        for kid in kids {
            sqlx::query("DELETE FROM signing_keys WHERE kid = ?")
                .bind(kid)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await
    }
}
