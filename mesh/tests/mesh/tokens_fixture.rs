//! The echo service of the token tests: it needs a token and reports what
//! it saw, optionally after calling a next hop.

pub(crate) use mesh::testing::{KeyServer, start_key_server};

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use mesh::{
    Caller, Policy, Role, Rule, Server, Upstream,
    testing::{Running, TestPki},
};
use mesh_proto::auth::v1::{
    ExchangeTokenRequest, GetJwksRequest, GetJwksResponse, TokenResponse,
    auth_client::AuthClient,
    auth_server::{Auth, AuthServer, SERVICE_NAME},
};
use serde_json::json;
use tonic::{Request, Response, Status};

/// A service that needs a token: `GetJwks` reports the caller it saw (or
/// what its next hop saw), `ExchangeToken` needs ADMIN and scope `admin`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Echo {
    pub(crate) calls: Arc<AtomicUsize>,
    next: Option<Upstream>,
}

impl Echo {
    pub(crate) fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

#[tonic::async_trait]
impl Auth for Echo {
    async fn get_jwks(
        &self,
        request: Request<GetJwksRequest>,
    ) -> Result<Response<GetJwksResponse>, Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let caller = Caller::of(&request)?;
        if let Some(next) = &self.next {
            return AuthClient::new(next.channel())
                .get_jwks(caller.request(GetJwksRequest {}))
                .await;
        }
        let claims = caller.claims();
        let seen = json!({
            "peer": caller.peer().to_string(),
            "sub": claims.sub,
            "aud": claims.aud,
            "act": claims.act.as_ref().map(|a| a.sub.clone()),
            "remaining_ms": caller.remaining().map(|d| d.as_millis() as u64),
        });
        Ok(Response::new(GetJwksResponse {
            jwks_json: seen.to_string(),
        }))
    }

    async fn exchange_token(
        &self,
        _: Request<ExchangeTokenRequest>,
    ) -> Result<Response<TokenResponse>, Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(Response::new(TokenResponse::default()))
    }
}

/// Starts an echo as `workload`, taking keys from `auth`; `next` names a
/// workload and address to call on.
pub(crate) async fn start_echo(
    pki: &TestPki,
    workload: mesh::Workload,
    auth: &Running,
    tune: impl FnOnce(&mut mesh::ServerArgs),
    next: Option<(&str, std::net::SocketAddr)>,
) -> (Running, Echo) {
    let mut args = pki.server_args(workload.name);
    args.jwt.auth_addr = auth.grpc_addr.to_string();
    tune(&mut args);
    let server = Server::start(workload, args).await.expect("start echo");
    let echo = Echo {
        calls: Arc::default(),
        next: next.map(|(name, addr)| server.upstream(name, &addr.to_string()).expect("upstream")),
    };
    let policy = Policy::new()
        .rpc(
            SERVICE_NAME,
            "GetJwks",
            Rule::peers(["gateway", "orders", "accounts"]),
        )
        .rpc(
            SERVICE_NAME,
            "ExchangeToken",
            Rule::peers(["gateway"])
                .scopes(["admin"])
                .roles([Role::Admin]),
        );
    let grpc = server
        .grpc(policy)
        .add_service(AuthServer::new(echo.clone()));
    // Wait for the background fetch of the keys, so the first call does
    // not race it.
    server.validator().expect("validator").wait_ready().await;
    (Running::spawn(server, grpc), echo)
}
