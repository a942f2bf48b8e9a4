//! [`Caller`]: who is calling, as handlers see it: the workload the request
//! came through and the verified token of the subject it acts for.

use std::{fmt, sync::Arc, time::Duration};

use tokio::time::Instant;
use tonic::Status;

use super::Claims;
use crate::{
    config::GATEWAY,
    identity::{PeerId, SpiffeId},
};

/// The authenticated caller of a request: the peer workload (mutual TLS)
/// and the subject's verified token. Put into request extensions by
/// [`super::JwtLayer`]; handlers read it with [`Caller::of`].
#[derive(Clone)]
pub struct Caller {
    peer: PeerId,
    claims: Arc<Claims>,
    /// The raw token, for propagation to upstreams; never logged.
    token: Arc<str>,
    /// When the caller stops waiting (from `grpc-timeout`).
    deadline: Option<Instant>,
}

impl fmt::Debug for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Caller")
            .field("peer", &self.peer.to_string())
            .field("sub", &self.claims.sub)
            .field("client_id", &self.claims.client_id)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl Caller {
    pub(crate) fn new(
        peer: PeerId,
        claims: Arc<Claims>,
        token: Arc<str>,
        deadline: Option<Instant>,
    ) -> Self {
        Self {
            peer,
            claims,
            token,
            deadline,
        }
    }

    /// The caller of `request`. `UNAUTHENTICATED` when the request carried no
    /// token (the policy table normally refuses those before a handler runs).
    pub fn of<T>(request: &tonic::Request<T>) -> Result<&Caller, Status> {
        request
            .extensions()
            .get::<Caller>()
            .ok_or_else(|| Status::unauthenticated("this call needs a bearer token"))
    }

    /// The verified token claims.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// The token subject (`sub`).
    pub fn subject(&self) -> &str {
        &self.claims.sub
    }

    /// The workload the request arrived from.
    pub fn peer(&self) -> &PeerId {
        &self.peer
    }

    /// The object-level rule: the owner, or MANAGER/ADMIN.
    pub fn may_access(&self, owner: &str) -> bool {
        self.claims.may_access(owner)
    }

    /// The principal that owns this caller's retries, which idempotency
    /// keys are scoped to: the token's subject when the request came
    /// through the edge (the gateway), else the calling workload's SPIFFE
    /// ID, so a workload retrying its own step (with a user's token or its
    /// own) meets its earlier attempt and never another caller's key.
    pub fn idempotency_scope(&self) -> &str {
        if self.peer.workload() == GATEWAY.name {
            &self.claims.sub
        } else {
            self.peer.spiffe_id().as_str()
        }
    }

    /// The workload whose own token this is (its `sub` is the SPIFFE ID of
    /// a workload of this trust domain), or `None` for a user or client.
    pub fn subject_workload(&self) -> Option<&str> {
        let id: SpiffeId = self.claims.sub.parse().ok()?;
        if id.trust_domain() != self.peer.spiffe_id().trust_domain() {
            return None;
        }
        let sub = self.claims.sub.as_str();
        Some(&sub[sub.len() - id.workload().len()..])
    }

    pub(crate) fn token(&self) -> &str {
        &self.token
    }

    /// Time left before the caller's deadline, if it set one.
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// An outgoing request on behalf of this caller: the upstream layer
    /// attaches the caller's token (or an exchanged one) and the remaining
    /// deadline.
    pub fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request.extensions_mut().insert(self.clone());
        request
    }
}

/// Parses a `grpc-timeout` header value (`<digits><unit>`, at most 8 digits).
pub(crate) fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(peer: &str, sub: &str) -> Caller {
        let claims: Claims = serde_json::from_value(serde_json::json!({
            "iss": "i", "sub": sub, "aud": "x", "client_id": "c", "iat": 1, "exp": 2, "jti": "j"
        }))
        .expect("claims");
        let peer: SpiffeId = format!("spiffe://mesh.local/{peer}")
            .parse()
            .expect("SPIFFE ID");
        Caller::new(peer.into(), Arc::new(claims), "token".into(), None)
    }

    #[test]
    fn retries_belong_to_the_subject_at_the_edge_and_to_the_workload_inside() {
        assert_eq!(caller("gateway", "alice").idempotency_scope(), "alice");
        assert_eq!(
            caller("orders", "alice").idempotency_scope(),
            "spiffe://mesh.local/orders"
        );
    }

    #[test]
    fn a_workload_token_names_its_workload() {
        let own = caller("payments", "spiffe://mesh.local/orders");
        assert_eq!(own.subject_workload(), Some("orders"));
        assert_eq!(caller("payments", "alice").subject_workload(), None);
        let foreign = caller("payments", "spiffe://elsewhere/orders");
        assert_eq!(foreign.subject_workload(), None);
    }

    #[test]
    fn grpc_timeouts_parse() {
        assert_eq!(parse_grpc_timeout("100m"), Some(Duration::from_millis(100)));
        assert_eq!(parse_grpc_timeout("2S"), Some(Duration::from_secs(2)));
        for bad in ["", "m", "123456789m", "10x", "-1S"] {
            assert_eq!(parse_grpc_timeout(bad), None, "{bad:?}");
        }
    }
}
