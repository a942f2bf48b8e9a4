//! Credentials of the workload itself, for calls no user is waiting on
//! (resuming interrupted work after a restart, scheduled jobs).
//!
//! The token comes from `auth.v1.WorkloadTokens` over mutual TLS: auth
//! knows who is asking from the client certificate, so no secret is
//! configured anywhere. It is cached until shortly before it expires.

use std::{sync::Arc, time::Duration};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use mesh_proto::auth::v1::{GetWorkloadTokenRequest, workload_tokens_client::WorkloadTokensClient};
use tokio::{sync::Mutex, time::Instant};
use tonic::{Status, transport::Channel};

use super::{Caller, Claims};
use crate::identity::PeerId;

/// A token is renewed this long before it expires.
const RENEW_BEFORE: Duration = Duration::from_secs(30);

/// Fetches and caches this workload's own token.
#[derive(Debug, Clone)]
pub struct WorkloadCredentials {
    auth: Channel,
    identity: PeerId,
    current: Arc<Mutex<Option<(Caller, Instant)>>>,
}

impl WorkloadCredentials {
    /// Credentials of `identity`, fetched through `auth` (a channel to the auth workload).
    pub fn new(auth: Channel, identity: PeerId) -> Self {
        Self {
            auth,
            identity,
            current: Arc::new(Mutex::new(None)),
        }
    }

    /// A [`Caller`] acting as this workload, for outgoing requests made
    /// with [`Caller::request`].
    pub async fn caller(&self) -> Result<Caller, Status> {
        let mut current = self.current.lock().await;
        if let Some((caller, renew_at)) = current.as_ref()
            && Instant::now() < *renew_at
        {
            return Ok(caller.clone());
        }
        let mut request = tonic::Request::new(GetWorkloadTokenRequest::default());
        request.set_timeout(Duration::from_secs(5));
        let response = WorkloadTokensClient::new(self.auth.clone())
            .get_workload_token(request)
            .await
            .map_err(|status| {
                tracing::warn!(code = ?status.code(), message = status.message(), "cannot get a workload token");
                Status::unavailable("cannot get a workload token from auth")
            })?
            .into_inner();
        // The token came from auth over mutual TLS, its identity checked by
        // the connector, so its claims are read, not verified: it is meant
        // for upstreams, which verify it (its audience is theirs, not ours).
        let claims = response
            .access_token
            .split('.')
            .nth(1)
            .and_then(|payload| URL_SAFE_NO_PAD.decode(payload).ok())
            .and_then(|json| serde_json::from_slice::<Claims>(&json).ok())
            .ok_or_else(|| Status::unavailable("auth returned an unreadable workload token"))?;
        let lifetime = Duration::from_secs(response.expires_in.max(0) as u64);
        let caller = Caller::new(
            self.identity.clone(),
            Arc::new(claims),
            response.access_token.into(),
            None,
        );
        *current = Some((
            caller.clone(),
            Instant::now() + lifetime.saturating_sub(RENEW_BEFORE),
        ));
        Ok(caller)
    }
}
