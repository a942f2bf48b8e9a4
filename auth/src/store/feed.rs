//! The revocation feed (`revocation_feed`): what workloads must refuse,
//! in the order it was revoked, read page by page from a version on.
//! Revoked tokens enter it by a trigger on `revoked_tokens`; revoked
//! sessions of a subject by [`Store::revoke_subject`].

use super::Store;

/// One page of the feed, as `auth.v1.Revocations` answers it.
#[derive(Debug, Default)]
pub(crate) struct FeedPage {
    pub(crate) feed: String,
    /// Ask from here next.
    pub(crate) version: i64,
    /// The rows are the whole live set.
    pub(crate) snapshot: bool,
    /// More rows wait after `version`.
    pub(crate) more: bool,
    /// `jti`, expiry.
    pub(crate) tokens: Vec<(String, i64)>,
    /// Subject, client (empty: every client), not-before, expiry.
    pub(crate) subjects: Vec<(String, String, i64, i64)>,
}

/// A feed row: version, jti, subject, client, not-before, expiry.
type Row = (i64, Option<String>, Option<String>, String, i64, i64);

impl Store {
    /// Revokes the tokens of `subject` issued to `client_id` (every client
    /// when empty) before `not_before`; the row lives until `expires_at`.
    pub(crate) async fn revoke_subject(
        &self,
        subject: &str,
        client_id: &str,
        not_before: i64,
        expires_at: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO revocation_feed (subject, client_id, not_before, expires_at) \
             VALUES (?, ?, ?, ?)",
        )
        .bind(subject)
        .bind(client_id)
        .bind(not_before)
        .bind(expires_at)
        .execute(&self.pool)
        .await
        .map(drop)
    }

    /// Up to `limit` rows after `since` in feed `feed`; every live row
    /// when `feed` is not this database's feed (a new follower, or one
    /// that followed a replaced database).
    pub(crate) async fn feed_page(
        &self,
        feed: &str,
        since: i64,
        limit: i64,
        now: i64,
    ) -> Result<FeedPage, sqlx::Error> {
        let id: String = sqlx::query_scalar("SELECT id FROM revocation_feed_id")
            .fetch_one(&self.pool)
            .await?;
        let latest: i64 = sqlx::query_scalar(
            "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'revocation_feed'), 0)",
        )
        .fetch_one(&self.pool)
        .await?;
        let snapshot = feed != id || since > latest || since < 0;
        let since = if snapshot { 0 } else { since };
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT version, jti, subject, client_id, not_before, expires_at \
             FROM revocation_feed WHERE version > ? ORDER BY version LIMIT ?",
        )
        .bind(since)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut page = FeedPage {
            more: rows.len() as i64 == limit,
            // Past the rows read, or, when there are none, up to date.
            version: rows
                .last()
                .map_or(if snapshot { latest } else { since }, |r| r.0),
            feed: id,
            snapshot,
            ..FeedPage::default()
        };
        // Expired rows are skipped but still move the version on.
        for (_, jti, subject, client_id, not_before, expires_at) in rows {
            if expires_at <= now {
                continue;
            }
            match (jti, subject) {
                (Some(jti), _) => page.tokens.push((jti, expires_at)),
                (None, Some(subject)) => {
                    page.subjects
                        .push((subject, client_id, not_before, expires_at));
                }
                (None, None) => {}
            }
        }
        Ok(page)
    }
}
