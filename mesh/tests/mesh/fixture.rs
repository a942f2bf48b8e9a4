//! A small service to put behind the kit: `auth.v1.Auth` whose `GetJwks`
//! counts its calls, so tests can assert a refused call never reached it.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use mesh::{Policy, Rule, Server, testing::Running, testing::TestPki};
use mesh_proto::auth::v1::{
    ExchangeTokenRequest, GetJwksRequest, GetJwksResponse, TokenResponse,
    auth_server::{Auth, AuthServer, SERVICE_NAME},
};
use tonic::{Request, Response, Status};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

/// Counts the calls that reach the handler.
#[derive(Debug, Clone, Default)]
pub(crate) struct Probe {
    pub(crate) calls: Arc<AtomicUsize>,
}

impl Probe {
    pub(crate) fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

#[tonic::async_trait]
impl Auth for Probe {
    async fn exchange_token(
        &self,
        _: Request<ExchangeTokenRequest>,
    ) -> Result<Response<TokenResponse>, Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(Status::unimplemented(
            "the fixture does not exchange tokens",
        ))
    }

    async fn get_jwks(
        &self,
        request: Request<GetJwksRequest>,
    ) -> Result<Response<GetJwksResponse>, Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let peer = request
            .extensions()
            .get::<mesh::PeerId>()
            .map(ToString::to_string);
        Ok(Response::new(GetJwksResponse {
            jwks_json: peer.unwrap_or_default(),
        }))
    }
}

/// Only `orders` may call `GetJwks`; `ExchangeToken` is not in the table.
pub(crate) fn policy() -> Policy {
    Policy::new().rpc(SERVICE_NAME, "GetJwks", Rule::peers(["orders"]).no_token())
}

/// Starts the fixture as workload `accounts` with `args`.
pub(crate) async fn start_with(args: mesh::ServerArgs) -> (Running, Probe) {
    let probe = Probe::default();
    let server = Server::start(mesh::ACCOUNTS, args)
        .await
        .expect("start server");
    let grpc = server
        .grpc(policy())
        .add_service(AuthServer::new(probe.clone()));
    (Running::spawn(server, grpc), probe)
}

/// Starts the fixture with default limits.
pub(crate) async fn start(pki: &TestPki) -> (Running, Probe) {
    start_with(pki.server_args("accounts")).await
}

/// A health check of `service` over `channel`.
pub(crate) async fn health(
    channel: tonic::transport::Channel,
    service: &str,
) -> Result<ServingStatus, Status> {
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await?;
    Ok(response.into_inner().status())
}

/// The admin port's metrics text.
pub(crate) async fn scrape(server: &Running) -> String {
    mesh::testing::http_get(server.admin_addr, "/metrics")
        .await
        .1
}
