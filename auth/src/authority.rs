//! The authorization server's state, shared by the HTTP endpoints, the
//! gRPC service and the maintenance task.

use std::{collections::BTreeSet, sync::Arc};

use crate::{
    clients::ClientAuthenticator, clock::Clock, directory::Directory, keys::Keyring,
    metrics::Metrics, store::Store, tokens::Tokens, users::UserAuthenticator,
};

/// Settings every grant reads. Durations in seconds.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// Lifetime of refresh token families (absolute, rotation does not extend it).
    pub(crate) refresh_ttl: i64,
    /// Whether the password grant is enabled (`--enable-password-grant`).
    pub(crate) password_grant: bool,
    /// How long verifiers may cache the JWKS.
    pub(crate) jwks_max_age: i64,
    /// Workloads whose `x-forwarded-for` names the client's address
    /// (`--trusted-proxy`).
    pub(crate) trusted_proxies: BTreeSet<String>,
}

/// Everything a request may need.
#[derive(Debug)]
pub(crate) struct Authority {
    pub(crate) settings: Settings,
    pub(crate) clock: Clock,
    pub(crate) directory: Arc<Directory>,
    pub(crate) clients: ClientAuthenticator,
    pub(crate) users: UserAuthenticator,
    pub(crate) keys: Arc<Keyring>,
    pub(crate) tokens: Tokens,
    pub(crate) store: Store,
    pub(crate) metrics: Metrics,
    /// Revocations per client and minute (`POST /oauth2/revoke`).
    pub(crate) revocations: crate::http::quota::RevocationQuota,
}

impl Authority {
    /// Revokes every token of `subject` issued to `client_id` (to every
    /// client when empty) until now, and every token exchanged from one:
    /// a not-before in the revocation feed, which workloads honour within
    /// seconds. Returns the not-before. Tokens issued in this very second
    /// are refused too, since `iat` has whole seconds and some of them may
    /// predate the revocation.
    pub(crate) async fn revoke_sessions(
        &self,
        subject: &str,
        client_id: &str,
        now: i64,
    ) -> Result<i64, sqlx::Error> {
        let not_before = now.saturating_add(1);
        let expires_at = not_before.saturating_add(self.tokens.max_lifetime());
        self.store
            .revoke_subject(subject, client_id, not_before, expires_at)
            .await?;
        Ok(not_before)
    }
}
