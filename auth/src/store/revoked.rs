//! Access tokens revoked before their expiry, by `jti`. A row lives until
//! the token would have expired anyway; then pruning removes it.

use super::Store;

impl Store {
    /// Records that the token `jti`, valid until `expires_at`, is revoked.
    pub(crate) async fn revoke_jti(&self, jti: &str, expires_at: i64) -> Result<(), sqlx::Error> {
        sqlx::query("INSERT OR IGNORE INTO revoked_tokens (jti, expires_at) VALUES (?, ?)")
            .bind(jti)
            .bind(expires_at)
            .execute(&self.pool)
            .await
            .map(drop)
    }

    /// Whether the token `jti` was revoked.
    pub(crate) async fn is_revoked(&self, jti: &str) -> Result<bool, sqlx::Error> {
        let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM revoked_tokens WHERE jti = ?")
            .bind(jti)
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.is_some())
    }
}
