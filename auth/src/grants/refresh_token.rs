//! `refresh_token` (RFC 6749 §6) with rotation and reuse detection
//! (RFC 9700 §4.14.2).
//!
//! Refresh tokens are 256-bit random strings, not JWTs; only their SHA-256
//! is stored. Each use returns a new refresh token and marks the old one
//! used. A used token presented again means two parties hold the family
//! (one of them stole it), so the whole family is revoked, together with
//! the access tokens issued from it, and so is the subject's session with
//! that client: every access token (and token exchanged from one) issued
//! to it so far stops working at every workload. A family ends at a fixed time after
//! login: rotation does not extend it.

use sha2::{Digest, Sha256};

use crate::{
    authority::Authority,
    config::ClientGrant,
    directory::Client,
    error::Error,
    grants::{GrantType, TokenResponse, grant_scope},
    scope::Scope,
    secret::Secret,
    store::{NewFamily, NewRefresh, RefreshRecord, Rotation},
    tokens::{Issued, TokenSpec},
};

/// The stored form of a refresh token.
pub(crate) fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Starts a family for a fresh login whose first access token is `issued`,
/// and returns its first refresh token.
pub(crate) async fn start_family(
    auth: &Authority,
    client_id: &str,
    issued: &Issued,
    now: i64,
) -> Result<Secret, Error> {
    let family = NewFamily {
        id: uuid::Uuid::new_v4().to_string(),
        client_id: client_id.to_owned(),
        subject: issued.claims.sub.clone(),
        created_at: now,
        expires_at: now.saturating_add(auth.settings.refresh_ttl),
    };
    let token = Secret::generate();
    let first = new_refresh(
        &token,
        &family.id,
        &issued.claims.scope,
        issued,
        now,
        family.expires_at,
    );
    auth.store.create_family(&family, &first).await?;
    Ok(token)
}

fn new_refresh(
    token: &Secret,
    family_id: &str,
    scope: &str,
    issued: &Issued,
    now: i64,
    expires_at: i64,
) -> NewRefresh {
    NewRefresh {
        token_hash: hash(token.expose()),
        family_id: family_id.to_owned(),
        scope: scope.to_owned(),
        audience: issued.claims.aud.join(" "),
        issued_at: now,
        expires_at,
        access_jti: issued.claims.jti.clone(),
        access_expires_at: issued.claims.exp,
    }
}

fn rejected(reason: &'static str) -> Error {
    Error::InvalidGrant {
        reason,
        description: "the refresh token is invalid, expired or revoked".into(),
    }
}

/// Exchanges `token` (issued to `client`) for new tokens.
pub(crate) async fn grant(
    auth: &Authority,
    client: &Client,
    token: &Secret,
    scope: Option<&str>,
    now: i64,
) -> Result<TokenResponse, Error> {
    if !client.grants.contains(&ClientGrant::RefreshToken) {
        return Err(Error::UnauthorizedClient(
            "this client may not use refresh tokens".into(),
        ));
    }
    let old_hash = hash(token.expose());
    let record = auth
        .store
        .find_refresh(&old_hash)
        .await?
        .ok_or_else(|| rejected("unknown_refresh_token"))?;
    if record.client_id != client.id {
        return Err(rejected("refresh_token_wrong_client"));
    }
    if record.family_revoked_at.is_some() {
        return Err(rejected("refresh_token_revoked"));
    }
    if record.used_at.is_some() {
        return Err(reuse(auth, &record, now).await);
    }
    if record.expires_at <= now {
        return Err(rejected("refresh_token_expired"));
    }
    let Some(user) = auth.directory.user(&record.subject) else {
        auth.store
            .revoke_family(&record.family_id, now, "user removed")
            .await?;
        return Err(rejected("refresh_token_unknown_user"));
    };
    // The user or the client may have lost rights since the login.
    let original = parse_stored_scope(&record.scope);
    let allowed = original
        .intersection(&client.scope)
        .intersection(&user.scope);
    let scope = grant_scope(scope, &allowed)?;
    let spec = TokenSpec {
        sub: user.username.clone(),
        aud: record
            .audience
            .split(' ')
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .collect(),
        client_id: client.id.clone(),
        scope,
        roles: user.roles.clone(),
        act: None,
        expires_by: None,
        root_jti: None,
    };
    let issued = auth.tokens.issue(spec, now)?;
    let next = Secret::generate();
    // The new refresh token keeps the original scope (RFC 6749 §6), even
    // when this access token was narrowed.
    let stored = new_refresh(
        &next,
        &record.family_id,
        &record.scope,
        &issued,
        now,
        record.expires_at,
    );
    match auth.store.rotate_refresh(&old_hash, now, &stored).await? {
        Rotation::Rotated => {}
        // Another request used it between our read and our write.
        Rotation::AlreadyUsed => return Err(reuse(auth, &record, now).await),
    }
    auth.metrics.token_issued(GrantType::RefreshToken.label());
    let mut response = TokenResponse::bearer(issued, now);
    response.refresh_token = Some(next.expose().to_owned());
    Ok(response)
}

/// A rotated token came back: revoke the family and the subject's session
/// with this client, answer `invalid_grant`.
async fn reuse(auth: &Authority, record: &RefreshRecord, now: i64) -> Error {
    let (family_id, client_id) = (&record.family_id, &record.client_id);
    let revoked = async {
        auth.store
            .revoke_family(family_id, now, "refresh token reuse")
            .await?;
        auth.revoke_sessions(&record.subject, client_id, now).await
    };
    match revoked.await {
        Ok(_) => {
            tracing::warn!(
                family_id,
                client_id,
                "refresh token reused: token family and session revoked"
            );
            rejected("refresh_token_reuse")
        }
        Err(e) => e.into(),
    }
}

fn parse_stored_scope(stored: &str) -> Scope {
    if stored.is_empty() {
        Scope::default()
    } else {
        // Stored scopes were written by us from a parsed scope.
        Scope::parse(stored).unwrap_or_default()
    }
}
