//! `POST /oauth2/revoke` (RFC 7009). A client may revoke its own tokens:
//! an access token (by `jti`, until it would have expired) or a refresh
//! token (its whole family, with the access tokens issued from it).
//! Unknown, invalid or expired tokens answer 200 as well (§2.2): there is
//! nothing left to revoke. A client that revokes more than its quota per
//! minute gets 503 with `Retry-After` (§2.2.1), see [`super::quota`].

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    response::Response,
};

use super::{Form, respond};
use crate::{authority::Authority, error::Error, grants::refresh_token};

pub(super) async fn revoke(State(auth): State<Arc<Authority>>, request: Request) -> Response {
    let result = handle(&auth, request).await;
    respond(
        &auth,
        "/oauth2/revoke",
        result.map(|()| serde_json::Map::new()),
    )
}

async fn handle(auth: &Authority, request: Request) -> Result<(), Error> {
    let (parts, form) = Form::read(request).await?;
    let now = auth.clock.now();
    let client = super::authenticate_client(auth, &parts, &form, now).await?;
    let token = form.required("token")?;
    if let Err(wait) = auth.revocations.take(&client.id, now) {
        auth.metrics.mesh.ratelimit_rejected("revocations");
        return Err(Error::TryLater {
            description: "too many revocations from this client; retry later".into(),
            retry_after: wait,
        });
    }
    let not_yours = || Error::UnauthorizedClient("the token was issued to another client".into());
    if let Ok(claims) = auth.tokens.verify(token, now) {
        if claims.client_id != client.id {
            return Err(not_yours());
        }
        auth.store.revoke_jti(&claims.jti, claims.exp).await?;
        tracing::info!(
            client_id = client.id,
            jti = claims.jti,
            "access token revoked"
        );
        return Ok(());
    }
    if token.len() <= 256
        && let Some(record) = auth.store.find_refresh(&refresh_token::hash(token)).await?
    {
        if record.client_id != client.id {
            return Err(not_yours());
        }
        if auth
            .store
            .revoke_family(&record.family_id, now, "revoked by client")
            .await?
        {
            tracing::info!(
                client_id = client.id,
                family_id = record.family_id,
                "refresh token family revoked"
            );
        }
    }
    Ok(())
}
