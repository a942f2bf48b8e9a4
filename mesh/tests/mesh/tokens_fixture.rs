//! Servers for the token tests: a stand-in for `auth` that serves a test
//! issuer's JWKS (and can go down), and an echo service that needs a token
//! and reports what it saw, optionally after calling a next hop.

use std::sync::{
    Arc,
    atomic::{AtomicBool, AtomicUsize, Ordering},
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use mesh::{
    Caller, Policy, Role, Rule, Server, Upstream,
    testing::{Running, TestIssuer, TestPki},
};
use mesh_proto::auth::v1::{
    ExchangeTokenRequest, GetJwksRequest, GetJwksResponse, TokenResponse,
    auth_client::AuthClient,
    auth_server::{Auth, AuthServer, SERVICE_NAME},
};
use serde_json::json;
use tonic::{Request, Response, Status};

/// The `auth` stand-in.
#[derive(Debug, Clone)]
pub(crate) struct KeyServer {
    pub(crate) issuer: Arc<TestIssuer>,
    pub(crate) fetches: Arc<AtomicUsize>,
    pub(crate) down: Arc<AtomicBool>,
}

impl KeyServer {
    pub(crate) fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

#[tonic::async_trait]
impl Auth for KeyServer {
    async fn get_jwks(
        &self,
        _: Request<GetJwksRequest>,
    ) -> Result<Response<GetJwksResponse>, Status> {
        if self.down.load(Ordering::SeqCst) {
            return Err(Status::unavailable("key server is down"));
        }
        self.fetches.fetch_add(1, Ordering::SeqCst);
        Ok(Response::new(GetJwksResponse {
            jwks_json: self.issuer.jwks(),
        }))
    }

    /// A minimal RFC 8693 exchange: same subject, the requested audience,
    /// and an `act` naming the calling workload.
    async fn exchange_token(
        &self,
        request: Request<ExchangeTokenRequest>,
    ) -> Result<Response<TokenResponse>, Status> {
        let peer = request
            .extensions()
            .get::<mesh::PeerId>()
            .cloned()
            .expect("peer identity");
        let request = request.into_inner();
        let payload = request
            .subject_token
            .split('.')
            .nth(1)
            .expect("compact token");
        let subject: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64"))
                .expect("json");
        let sub = subject["sub"].as_str().expect("sub");
        let mut claims = self.issuer.claims(sub, &[&request.audience]);
        claims["act"] = json!({ "sub": peer.to_string() });
        Ok(Response::new(TokenResponse {
            access_token: self.issuer.token("es-1", &claims),
            token_type: "Bearer".to_owned(),
            expires_in: 300,
            scope: claims["scope"].as_str().unwrap_or_default().to_owned(),
            issued_token_type: "urn:ietf:params:oauth:token-type:access_token".to_owned(),
        }))
    }
}

/// Starts the key server as workload `auth`.
pub(crate) async fn start_key_server(pki: &TestPki) -> (Running, KeyServer) {
    let keys = KeyServer {
        issuer: Arc::new(TestIssuer::new()),
        fetches: Arc::default(),
        down: Arc::default(),
    };
    let server = Server::start(mesh::AUTH, pki.server_args("auth"))
        .await
        .expect("start auth");
    let policy = Policy::new()
        .rpc(SERVICE_NAME, "GetJwks", Rule::any_workload().no_token())
        .rpc(
            SERVICE_NAME,
            "ExchangeToken",
            Rule::any_workload().no_token(),
        );
    let grpc = server
        .grpc(policy)
        .add_service(AuthServer::new(keys.clone()));
    (Running::spawn(server, grpc), keys)
}

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
    server
        .validator()
        .expect("validator")
        .jwks()
        .wait_fresh()
        .await;
    (Running::spawn(server, grpc), echo)
}
