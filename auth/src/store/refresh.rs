//! Refresh token families: creation at login, lookup, single-use rotation,
//! and revocation of a whole family when a rotated token comes back.

use super::Store;

/// A new login's family.
#[derive(Debug, Clone)]
pub(crate) struct NewFamily {
    pub(crate) id: String,
    pub(crate) client_id: String,
    pub(crate) subject: String,
    pub(crate) created_at: i64,
    pub(crate) expires_at: i64,
}

/// A refresh token about to be handed out (by its hash only).
#[derive(Debug, Clone)]
pub(crate) struct NewRefresh {
    pub(crate) token_hash: [u8; 32],
    pub(crate) family_id: String,
    pub(crate) scope: String,
    pub(crate) audience: String,
    pub(crate) issued_at: i64,
    pub(crate) expires_at: i64,
    pub(crate) access_jti: String,
    pub(crate) access_expires_at: i64,
}

/// A stored refresh token with its family.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct RefreshRecord {
    pub(crate) family_id: String,
    pub(crate) client_id: String,
    pub(crate) subject: String,
    pub(crate) scope: String,
    pub(crate) audience: String,
    pub(crate) issued_at: i64,
    pub(crate) expires_at: i64,
    pub(crate) used_at: Option<i64>,
    pub(crate) family_revoked_at: Option<i64>,
}

/// The outcome of trying to rotate a refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rotation {
    /// The old token is now used and the new one stored.
    Rotated,
    /// Someone used the old token first: it is being reused.
    AlreadyUsed,
}

impl Store {
    /// Stores a new family and its first token.
    pub(crate) async fn create_family(
        &self,
        family: &NewFamily,
        first: &NewRefresh,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "INSERT INTO refresh_families (id, client_id, subject, created_at, expires_at) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&family.id)
        .bind(&family.client_id)
        .bind(&family.subject)
        .bind(family.created_at)
        .bind(family.expires_at)
        .execute(&mut *tx)
        .await?;
        insert_token(&mut tx, first).await?;
        tx.commit().await
    }

    /// The token whose SHA-256 is `token_hash`, if it is stored.
    pub(crate) async fn find_refresh(
        &self,
        token_hash: &[u8; 32],
    ) -> Result<Option<RefreshRecord>, sqlx::Error> {
        sqlx::query_as(
            "SELECT t.family_id, f.client_id, f.subject, t.scope, t.audience, t.issued_at, \
             MIN(t.expires_at, f.expires_at) AS expires_at, t.used_at, \
             f.revoked_at AS family_revoked_at \
             FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id \
             WHERE t.token_hash = ?",
        )
        .bind(token_hash.as_slice())
        .fetch_optional(&self.pool)
        .await
    }

    /// Marks `old_hash` used and stores `new`, atomically. Only one caller
    /// can ever see [`Rotation::Rotated`] for a given old token.
    pub(crate) async fn rotate_refresh(
        &self,
        old_hash: &[u8; 32],
        now: i64,
        new: &NewRefresh,
    ) -> Result<Rotation, sqlx::Error> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let claimed = sqlx::query(
            "UPDATE refresh_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL",
        )
        .bind(now)
        .bind(old_hash.as_slice())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if claimed == 0 {
            return Ok(Rotation::AlreadyUsed);
        }
        insert_token(&mut tx, new).await?;
        tx.commit().await?;
        Ok(Rotation::Rotated)
    }

    /// Revokes family `family_id` and every unexpired access token issued
    /// with one of its refresh tokens. Returns whether it was live before.
    pub(crate) async fn revoke_family(
        &self,
        family_id: &str,
        now: i64,
        reason: &str,
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let revoked = sqlx::query(
            "UPDATE refresh_families SET revoked_at = ?, revoked_reason = ? \
             WHERE id = ? AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(reason)
        .bind(family_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query(
            "INSERT OR IGNORE INTO revoked_tokens (jti, expires_at) \
             SELECT access_jti, access_expires_at + ? FROM refresh_tokens \
             WHERE family_id = ? AND access_expires_at + ? > ?",
        )
        .bind(super::revoked::REVOKED_MARGIN)
        .bind(family_id)
        .bind(super::revoked::REVOKED_MARGIN)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(revoked > 0)
    }

    /// Revokes every live refresh family of `subject`, so that none can
    /// mint new access tokens. Returns how many were live.
    pub(crate) async fn revoke_families_of(
        &self,
        subject: &str,
        now: i64,
        reason: &str,
    ) -> Result<u64, sqlx::Error> {
        sqlx::query(
            "UPDATE refresh_families SET revoked_at = ?, revoked_reason = ? \
             WHERE subject = ? AND revoked_at IS NULL AND expires_at > ?",
        )
        .bind(now)
        .bind(reason)
        .bind(subject)
        .bind(now)
        .execute(&self.pool)
        .await
        .map(|done| done.rows_affected())
    }
}

async fn insert_token(
    tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
    token: &NewRefresh,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, family_id, scope, audience, issued_at, \
         expires_at, access_jti, access_expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(token.token_hash.as_slice())
    .bind(&token.family_id)
    .bind(&token.scope)
    .bind(&token.audience)
    .bind(token.issued_at)
    .bind(token.expires_at)
    .bind(&token.access_jti)
    .bind(token.access_expires_at)
    .execute(&mut **tx)
    .await
    .map(drop)
}
