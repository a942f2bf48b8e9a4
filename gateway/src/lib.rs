//! The `gateway` workload: the one public door of the mesh.
//!
//! One TLS port (HTTP/1.1 and HTTP/2 by ALPN) serves REST/JSON routed and
//! transcoded from the `google.api.http` annotations, native gRPC for the
//! same public RPCs, the OAuth 2.0 endpoints of `auth`, `/openapi.json`,
//! and gRPC server reflection and health for the public API itself.
//! Every API request is authenticated at the edge by the mesh's validator,
//! rate-limited, and sent to the owning workload over mutual TLS with the
//! caller's token. Nothing internal is reachable: an RPC without an HTTP
//! rule has no route.

mod codec;
mod edge;
mod grpc;
mod oauth;
mod openapi;
mod problem;
mod ratelimit;
mod reflection;
mod rest;
mod routes;
mod transcode;

use std::{collections::HashMap, net::SocketAddr, num::NonZeroU32, sync::Arc, time::Duration};

use anyhow::Context;
use axum::{
    Router,
    body::Body,
    extract::State,
    response::{IntoResponse, Response},
    routing::{any, get},
};
use bytes::Bytes;
use http::{HeaderValue, Request, header};
use mesh::{Metrics, PeerId, Policy, Upstream, Validator, peer::ConnInfo};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use problem::GatewayError;
use ratelimit::Limit;
use routes::RouteTable;

/// Command-line flags and environment of the `gateway` binary.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "gateway", version, about = "The public gateway of the mesh")]
pub struct Args {
    #[command(flatten)]
    pub mesh: mesh::ServerArgs,
    #[command(flatten)]
    pub gateway: GatewayArgs,
}

/// The gateway's own flags.
#[derive(Debug, Clone, clap::Args)]
pub struct GatewayArgs {
    /// Address of the public TLS port (REST, gRPC, OAuth, OpenAPI).
    #[arg(long, env = "GATEWAY_LISTEN", default_value = "127.0.0.1:8443")]
    pub public_listen: SocketAddr,

    /// Address (host:port) of the orders workload.
    #[arg(long, env = "ORDERS_ADDR", default_value = "127.0.0.1:7002")]
    pub orders_addr: String,

    /// Address (host:port) of the payments workload.
    #[arg(long, env = "PAYMENTS_ADDR", default_value = "127.0.0.1:7003")]
    pub payments_addr: String,

    /// Address (host:port) of the accounts workload.
    #[arg(long, env = "ACCOUNTS_ADDR", default_value = "127.0.0.1:7004")]
    pub accounts_addr: String,

    /// Address (host:port) of auth's HTTPS port, for the OAuth endpoints.
    #[arg(long, env = "AUTH_HTTP_ADDR", default_value = "127.0.0.1:7443")]
    pub auth_http_addr: String,

    /// Largest request body accepted, in bytes.
    #[arg(long, env = "GATEWAY_MAX_BODY_BYTES", default_value_t = 64 * 1024)]
    pub max_body_bytes: usize,

    /// Requests per second allowed per token subject.
    #[arg(long, env = "GATEWAY_RATE_SUBJECT", default_value = "50")]
    pub rate_limit_subject: NonZeroU32,

    /// Requests per second allowed per OAuth client.
    #[arg(long, env = "GATEWAY_RATE_CLIENT", default_value = "1000")]
    pub rate_limit_client: NonZeroU32,

    /// Requests per second allowed per source IP without a valid token.
    #[arg(long, env = "GATEWAY_RATE_IP", default_value = "20")]
    pub rate_limit_ip: NonZeroU32,

    /// Burst allowed above each rate, as a multiple of it.
    #[arg(long, env = "GATEWAY_RATE_BURST_FACTOR", default_value = "2")]
    pub rate_limit_burst_factor: NonZeroU32,
}

/// What request handling needs, shared by every connection.
#[derive(Debug)]
pub struct Gateway {
    routes: RouteTable,
    upstreams: HashMap<String, Upstream>,
    validator: Validator,
    identity: PeerId,
    limits: Arc<ratelimit::RateLimits>,
    metrics: Metrics,
    auth: oauth::AuthProxy,
    openapi: Bytes,
    /// Reflection and health of the public port.
    reflection: tonic::service::Routes,
    max_body_bytes: usize,
    request_timeout: Duration,
}

/// A gateway configured and bound, not yet serving.
#[derive(Debug)]
pub struct Started {
    server: mesh::Server,
    public: TcpListener,
    gateway: Arc<Gateway>,
    limits: mesh::Limits,
}

impl Started {
    /// Checks the configuration, binds the mesh ports and the public port.
    pub async fn start(args: Args) -> anyhow::Result<Self> {
        let limits = args.mesh.limits.clone();
        let server = mesh::Server::start(mesh::GATEWAY, args.mesh).await?;
        let flags = &args.gateway;
        let public = TcpListener::bind(flags.public_listen)
            .await
            .with_context(|| format!("--public-listen {}: cannot listen", flags.public_listen))?;
        let routes = RouteTable::embedded().map_err(anyhow::Error::msg)?;
        let mut upstreams = HashMap::new();
        for (name, addr, flag) in [
            ("orders", &flags.orders_addr, "--orders-addr"),
            ("payments", &flags.payments_addr, "--payments-addr"),
            ("accounts", &flags.accounts_addr, "--accounts-addr"),
        ] {
            let upstream = server
                .upstream(name, addr)
                .with_context(|| flag.to_owned())?;
            upstreams.insert(name.to_owned(), upstream);
        }
        let burst = |rate: NonZeroU32| rate.saturating_mul(flags.rate_limit_burst_factor);
        let limit = |rate| Limit {
            per_second: rate,
            burst: burst(rate),
        };
        let rate_limits = ratelimit::RateLimits::new(
            limit(flags.rate_limit_subject),
            limit(flags.rate_limit_client),
            limit(flags.rate_limit_ip),
            server.metrics().clone(),
        );
        let reflection = reflection::services(&routes)
            .await
            .map_err(anyhow::Error::msg)?;
        let gateway = Gateway {
            openapi: Bytes::from(openapi::document(&routes).to_string()),
            reflection,
            routes,
            upstreams,
            validator: server.validator()?,
            identity: server.tls().identity().into(),
            limits: rate_limits,
            metrics: server.metrics().clone(),
            auth: oauth::AuthProxy::new(server.tls(), &flags.auth_http_addr)
                .map_err(|e| anyhow::anyhow!("--auth-http-addr {}: {e}", flags.auth_http_addr))?,
            max_body_bytes: flags.max_body_bytes,
            request_timeout: limits.request_timeout,
        };
        Ok(Self {
            server,
            public,
            gateway: Arc::new(gateway),
            limits,
        })
    }

    /// Where the public port listens.
    pub fn public_addr(&self) -> SocketAddr {
        self.public
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Where the mesh-facing gRPC port listens.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.server.grpc_addr()
    }

    /// Where the admin port listens.
    pub fn admin_addr(&self) -> SocketAddr {
        self.server.admin_addr()
    }

    /// The token validator (tests wait on its first key fetch).
    pub fn validator(&self) -> &Validator {
        &self.gateway.validator
    }

    /// Serves both ports until `stop` is cancelled, then drains them.
    pub async fn serve(self, stop: CancellationToken) -> anyhow::Result<()> {
        let Self {
            server,
            public,
            gateway,
            limits,
        } = self;
        let pruner = gateway.limits.spawn_pruner(Duration::from_secs(60));
        let app = router(gateway.clone());
        let tls = server.tls().clone();
        let metrics = server.metrics().clone();
        let grpc = server.grpc(Policy::new());
        let (mesh_port, public_port) = tokio::join!(
            server.serve(grpc, stop.clone().cancelled_owned()),
            mesh::https::serve(public, tls, app, &limits, metrics, stop.cancelled_owned()),
        );
        pruner.abort();
        mesh_port?;
        public_port?;
        Ok(())
    }
}

/// The public routes.
fn router(gateway: Arc<Gateway>) -> Router {
    let mut router = Router::new()
        .route("/openapi.json", get(openapi_json))
        .route("/healthz", get(|| async { "ok\n" }));
    for path in oauth::PATHS {
        router = router.route(path, any(oauth_passthrough));
    }
    for path in reflection::PATHS {
        router = router.route(path, any(self_description));
    }
    router
        // Fixed routes name their span; the API names its own by template.
        .route_layer(axum::middleware::from_fn(mesh::https::named_by_route))
        .fallback(api)
        .with_state(gateway)
}

async fn openapi_json(State(gw): State<Arc<Gateway>>) -> Response {
    let mut response = gw.openapi.clone().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn source_ip(request: &Request<Body>) -> Option<std::net::IpAddr> {
    request
        .extensions()
        .get::<ConnInfo>()
        .map(|c| c.remote_addr.ip())
}

async fn oauth_passthrough(State(gw): State<Arc<Gateway>>, request: Request<Body>) -> Response {
    let ip = source_ip(&request);
    match gw.auth.forward(&gw, request, ip).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

/// Reflection and health: answered here, limited per source address.
async fn self_description(State(gw): State<Arc<Gateway>>, request: Request<Body>) -> Response {
    if let Some(ip) = source_ip(&request)
        && let Err(error) = gw.limits.check_ip(ip)
    {
        return error.into_status().into_http::<Body>();
    }
    match gw.reflection.clone().oneshot(request).await {
        Ok(response) => response.map(Body::new),
        Err(never) => match never {},
    }
}

async fn api(State(gw): State<Arc<Gateway>>, mut request: Request<Body>) -> Response {
    let ip = source_ip(&request);
    edge::strip_mesh_headers(request.headers_mut());
    // The public port's SERVER span (mesh::https) is current: it
    // continues the client's traceparent, and every upstream call made
    // here is its child. Handlers name it by route once they know it.
    if grpc::is_grpc(&request) {
        return grpc::handle(&gw, request, ip).await;
    }
    match tokio::time::timeout(gw.request_timeout, rest::handle(&gw, request, ip)).await {
        Ok(Ok(response)) => response,
        Ok(Err(error)) => error.into_response(),
        Err(_) => GatewayError::from_status(&tonic::Status::deadline_exceeded("timed out"))
            .into_response(),
    }
}
