//! `auth.v1.Auth` over the mesh's mutual-TLS gRPC port: token exchange and
//! the JWKS for workloads that would rather not speak HTTP; workload
//! tokens; and the revocation feed (`revocations`).
//!
//! The kit's stack has already checked the caller's certificate and the
//! policy table by the time a handler runs; the verified [`PeerId`] is a
//! request extension. Token exchange runs the same grant as the HTTP
//! endpoint.

mod revocations;

use std::sync::Arc;

use mesh::{PeerId, Policy, Rule};
use mesh_proto::auth::v1::{
    ExchangeTokenRequest, GetJwksRequest, GetJwksResponse, GetWorkloadTokenRequest, TokenResponse,
    auth_server::{Auth, AuthServer},
    workload_tokens_server::{WorkloadTokens, WorkloadTokensServer},
};
use tonic::{Request, Response, Status};

use crate::{
    authority::Authority,
    error::Error,
    grants::{
        ACCESS_TOKEN_TYPE,
        token_exchange::{self, ExchangeRequest},
        workload,
    },
};

/// The gRPC service names, as in the policy table.
const SERVICE: &str = "auth.v1.Auth";
const WORKLOAD_TOKENS: &str = "auth.v1.WorkloadTokens";
const REVOCATIONS: &str = "auth.v1.Revocations";

/// Who may call which RPC: any mesh workload, for both, on its workload
/// identity alone. Neither takes a bearer token in metadata: the JWKS is
/// how validators get keys in the first place, and the token to exchange
/// is in the message, checked by the grant (which also decides, from the
/// config, what each workload may exchange for).
pub(crate) fn policy() -> Policy {
    Policy::new()
        .rpc(SERVICE, "ExchangeToken", Rule::any_workload().no_token())
        .rpc(SERVICE, "GetJwks", Rule::any_workload().no_token())
        // A workload's own token: its certificate is its credential; the
        // config decides whether it gets one and with which scopes.
        .rpc(
            WORKLOAD_TOKENS,
            "GetWorkloadToken",
            Rule::any_workload().no_token(),
        )
        // Every workload follows the feed to refuse revoked tokens; it
        // names token ids and subjects only, never a token.
        .rpc(
            REVOCATIONS,
            "ListRevocations",
            Rule::any_workload().no_token(),
        )
}

pub(crate) use revocations::service as revocations;

/// The generated server of `auth.v1.WorkloadTokens`.
pub(crate) fn workload_tokens(auth: Arc<Authority>) -> WorkloadTokensServer<AuthService> {
    WorkloadTokensServer::new(AuthService { auth })
}

/// The generated server around our handlers.
pub(crate) fn service(auth: Arc<Authority>) -> AuthServer<AuthService> {
    AuthServer::new(AuthService { auth })
}

/// The handlers of `auth.v1.Auth`.
#[derive(Debug)]
pub(crate) struct AuthService {
    auth: Arc<Authority>,
}

#[tonic::async_trait]
impl Auth for AuthService {
    async fn exchange_token(
        &self,
        request: Request<ExchangeTokenRequest>,
    ) -> Result<Response<TokenResponse>, Status> {
        let auth = &self.auth;
        let caller = PeerId::of(&request)?.clone();
        let message = request.into_inner();
        let exchange = ExchangeRequest {
            subject_token: &message.subject_token,
            subject_token_type: ACCESS_TOKEN_TYPE,
            audience: [message.audience.as_str()]
                .into_iter()
                .filter(|a| !a.is_empty())
                .collect(),
            scope: Some(message.scope.as_str()).filter(|s| !s.is_empty()),
            ..ExchangeRequest::default()
        };
        match token_exchange::grant(auth, &caller, exchange, auth.clock.now()).await {
            Ok(issued) => Ok(Response::new(TokenResponse {
                access_token: issued.access_token,
                token_type: issued.token_type.to_owned(),
                expires_in: issued.expires_in,
                scope: issued.scope,
                issued_token_type: issued.issued_token_type.unwrap_or_default().to_owned(),
            })),
            Err(error) => Err(record(auth, "/auth.v1.Auth/ExchangeToken", error)),
        }
    }

    async fn get_jwks(
        &self,
        _request: Request<GetJwksRequest>,
    ) -> Result<Response<GetJwksResponse>, Status> {
        let jwks = self.auth.keys.jwks(self.auth.clock.now());
        let jwks_json = serde_json::to_string(&jwks).map_err(|e| {
            record(
                &self.auth,
                "/auth.v1.Auth/GetJwks",
                Error::internal("jwks", e),
            )
        })?;
        Ok(Response::new(GetJwksResponse { jwks_json }))
    }
}

#[tonic::async_trait]
impl WorkloadTokens for AuthService {
    async fn get_workload_token(
        &self,
        request: Request<GetWorkloadTokenRequest>,
    ) -> Result<Response<TokenResponse>, Status> {
        let auth = &self.auth;
        let caller = PeerId::of(&request)?.clone();
        let scope = Some(request.get_ref().scope.as_str()).filter(|s| !s.is_empty());
        match workload::grant(auth, &caller, scope, auth.clock.now()) {
            Ok(issued) => Ok(Response::new(TokenResponse {
                access_token: issued.access_token,
                token_type: issued.token_type.to_owned(),
                expires_in: issued.expires_in,
                scope: issued.scope,
                issued_token_type: ACCESS_TOKEN_TYPE.to_owned(),
            })),
            Err(error) => Err(record(
                auth,
                "/auth.v1.WorkloadTokens/GetWorkloadToken",
                error,
            )),
        }
    }
}

fn record(auth: &Authority, method: &str, error: Error) -> Status {
    error.record(&auth.metrics.mesh, method);
    error.into()
}
