//! Access tokens revoked before their expiry, by `jti`. A row lives until
//! the token would have expired anyway; then pruning removes it. Each new
//! row also enters the revocation feed (a trigger, see the migration).

use super::Store;

/// Seconds a revoked token stays revoked past its `exp`: the largest skew
/// a validator of the mesh may tolerate (`mesh::jwt::MAX_SKEW`).
pub(crate) const REVOKED_MARGIN: i64 = mesh::jwt::MAX_SKEW.as_secs() as i64;
use crate::tokens::AccessClaims;

impl Store {
    /// Records that the token `jti`, valid until `expires_at`, is revoked:
    /// kept (and published) until [`REVOKED_MARGIN`] past that, as long as
    /// any validator may still accept it.
    pub(crate) async fn revoke_jti(&self, jti: &str, expires_at: i64) -> Result<(), sqlx::Error> {
        sqlx::query("INSERT OR IGNORE INTO revoked_tokens (jti, expires_at) VALUES (?, ?)")
            .bind(jti)
            .bind(expires_at.saturating_add(REVOKED_MARGIN))
            .execute(&self.pool)
            .await
            .map(drop)
    }

    /// Whether the token of `claims` was revoked: by its `jti`, by the
    /// `root_jti` it was exchanged from, or with its subject's sessions
    /// (a not-before later than its `iat`). The same rules as workloads
    /// apply to the feed.
    pub(crate) async fn is_revoked(
        &self,
        claims: &AccessClaims,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        let root = claims.root_jti.as_deref().unwrap_or(&claims.jti);
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM revoked_tokens WHERE jti IN (?, ?)) \
             OR EXISTS (SELECT 1 FROM revocation_feed WHERE subject = ? \
                 AND client_id IN (?, '') AND not_before > ? AND expires_at > ?)",
        )
        .bind(&claims.jti)
        .bind(root)
        .bind(&claims.sub)
        .bind(&claims.client_id)
        .bind(claims.iat)
        .bind(now)
        .fetch_one(&self.pool)
        .await
    }
}
