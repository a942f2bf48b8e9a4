//! The bootstrap every workload binary runs: [`Server::start`] checks the
//! configuration and binds the ports, the service adds its gRPC services and
//! policy, and [`Server::serve`] runs until shutdown, then drains.
//!
//! ```no_run
//! # async fn f(args: mesh::ServerArgs, policy: mesh::Policy) -> anyhow::Result<()> {
//! let server = mesh::Server::start(mesh::ACCOUNTS, args).await?;
//! let grpc = server.grpc(policy); // .add_service(AccountsServer::new(handler))
//! server.serve(grpc, mesh::shutdown::signal()).await?;
//! # Ok(()) }
//! ```
//!
//! Binding happens in `start`, before anything is spawned, so a test that
//! starts a server on port 0 can connect as soon as `start` returns.

mod admin;
mod incoming;

use std::{convert::Infallible, future::Future, net::SocketAddr, sync::Arc};

use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::{body::Body, server::NamedService, service::RoutesBuilder};
use tower::ServiceBuilder;

use crate::{
    client::{Exchanger, TokenMode, Upstream, UpstreamError},
    config::{JwtArgs, Limits, ServerArgs, TokenModeArg, Workload},
    jwt::{
        GrpcJwksSource, JwksClient, JwtLayer, Revocations, SystemClock, Validator, ValidatorConfig,
        WorkloadCredentials, jwks::JwksTiming, revocation::follower,
    },
    metrics::Metrics,
    peer::PeerIdLayer,
    policy::{AuthorizeLayer, Policy, Rule},
    telemetry::{self, RpcLayer},
    tls::{self, MeshTls, TlsError},
};

pub use admin::Readiness;

/// A workload's server, configured and bound, not yet serving.
#[derive(Debug)]
pub struct Server {
    workload: Workload,
    tls: MeshTls,
    limits: Limits,
    tls_reload_interval: std::time::Duration,
    grpc_listener: TcpListener,
    admin_listener: TcpListener,
    metrics: Metrics,
    /// Behind a lock so a service can register its own metrics from `&Server`.
    registry: std::sync::Mutex<Registry>,
    readiness: Readiness,
    jwt: JwtArgs,
    /// `--load-test-peer`: admitted to every public RPC; empty unless load
    /// testing was switched on explicitly.
    load_test_peers: Vec<String>,
    /// Created on first use: only workloads that check tokens fetch keys.
    validator: std::sync::OnceLock<Result<TokenChecks, UpstreamError>>,
}

impl Server {
    /// Sets up logging, loads and checks the TLS files, and binds both
    /// ports. Every error names the flag or file at fault.
    pub async fn start(workload: Workload, args: ServerArgs) -> Result<Self, StartError> {
        telemetry::init(args.log_format, workload.name);
        if args.jwt.revocation_max_staleness <= args.jwt.revocation_poll_interval {
            // Every token would be refused between two polls.
            return Err(StartError::Flags(
                "--revocation-max-staleness must be longer than --revocation-poll-interval",
            ));
        }
        if args.jwt.jwt_skew > crate::jwt::MAX_SKEW {
            // Auth keeps a revoked token in the feed only this long past
            // its `exp`; a larger skew would let it work again after that.
            return Err(StartError::Flags("--jwt-skew must be at most 5m"));
        }
        tls::install_default_provider();
        let tls = MeshTls::load(
            args.tls.files(workload.name),
            args.tls.trust_domain.clone(),
            workload.name,
        )?;
        let grpc_addr = args
            .listen
            .unwrap_or(([127, 0, 0, 1], workload.grpc_port).into());
        let admin_addr = args
            .admin_listen
            .unwrap_or(([127, 0, 0, 1], workload.admin_port).into());
        let grpc_listener = bind("--listen", grpc_addr).await?;
        let admin_listener = bind("--admin-listen", admin_addr).await?;
        let (metrics, registry) = Metrics::new(workload.name);
        let load_test_peers: Vec<String> = (args.load_test_peers.into_iter())
            .filter(|name| !name.is_empty())
            .collect();
        if !load_test_peers.is_empty() {
            tracing::warn!(peers = ?load_test_peers, "load testing is on: these workloads may call every public RPC directly");
        }
        Ok(Self {
            workload,
            tls,
            limits: args.limits,
            tls_reload_interval: args.tls.tls_reload_interval,
            grpc_listener,
            admin_listener,
            metrics,
            registry: std::sync::Mutex::new(registry),
            readiness: Readiness::default(),
            jwt: args.jwt,
            load_test_peers,
            validator: std::sync::OnceLock::new(),
        })
    }

    /// The token validator of this workload, fetching keys and following
    /// revocations from `auth` (--auth-addr) in the background from the
    /// first call on.
    pub fn validator(&self) -> Result<Validator, UpstreamError> {
        let created = self.validator.get_or_init(|| {
            let jwt = &self.jwt;
            let auth = Upstream::new(&self.tls, "auth", &jwt.auth_addr)?;
            let source = GrpcJwksSource::new(auth.clone());
            let timing = JwksTiming {
                refresh_interval: jwt.jwks_refresh_interval,
                min_refresh_interval: jwt.jwks_min_refresh_interval,
                max_staleness: jwt.jwks_max_staleness,
            };
            let clock = Arc::new(SystemClock);
            let jwks = Arc::new(JwksClient::new(
                Box::new(source),
                jwt.jwt_algorithms.clone(),
                timing,
                clock.clone(),
                self.metrics.clone(),
            ));
            let refresher = jwks.spawn_refresher(self.readiness.clone());
            let revocations = Arc::new(Revocations::new(
                clock.clone(),
                jwt.revocation_max_staleness,
            ));
            let follower = follower::spawn(
                revocations.clone(),
                auth.raw_channel(),
                jwt.revocation_poll_interval,
                self.metrics.clone(),
                self.readiness.clone(),
            );
            let config = ValidatorConfig {
                issuer: jwt.issuer.clone(),
                audience: jwt
                    .audience
                    .clone()
                    .unwrap_or_else(|| self.workload.name.to_owned()),
                algorithms: jwt.jwt_algorithms.clone(),
                skew: jwt.jwt_skew,
                cache_capacity: jwt.token_cache_size,
            };
            Ok(TokenChecks {
                validator: Validator::with_revocations(config, jwks, Some(revocations), clock),
                refresher,
                follower,
            })
        });
        match created {
            Ok(checks) => Ok(checks.validator.clone()),
            Err(e) => Err(e.clone()),
        }
    }

    /// Where the mutual-TLS gRPC port listens.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Where the admin HTTP port listens.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// The workload this server runs as.
    pub fn workload(&self) -> Workload {
        self.workload
    }

    /// The workload's live TLS state (for outgoing channels).
    pub fn tls(&self) -> &MeshTls {
        &self.tls
    }

    /// The shared security metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The metrics registry, for a service's own metrics.
    pub fn registry_mut(&mut self) -> &mut Registry {
        self.registry
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers a service's own metric `name`, exported beside the kit's.
    pub fn register(
        &self,
        name: &str,
        help: &str,
        metric: impl prometheus_client::registry::Metric,
    ) {
        self.registry
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .register(name, help, metric);
    }

    /// The readiness flags `/readyz` reports.
    pub fn readiness(&self) -> &Readiness {
        &self.readiness
    }

    /// A pool of mutual-TLS channels to workload `name` at `addr`
    /// (`host:port`), which must present `name`'s SPIFFE ID. Calls made with
    /// [`crate::Caller::request`] carry the caller's token as `--token-mode` says.
    pub fn upstream(&self, name: &str, addr: &str) -> Result<Upstream, UpstreamError> {
        let mode = match self.jwt.token_mode {
            TokenModeArg::Propagate => TokenMode::Propagate,
            TokenModeArg::Exchange => {
                let auth = Upstream::new(&self.tls, "auth", &self.jwt.auth_addr)?;
                // The exchanger shares the validator's revocations, so it
                // never hands on a token exchanged from a revoked one.
                let revocations = self.validator()?.revocations().cloned();
                // Exchanges are calls of their own: a CLIENT span each, in
                // the caller's trace.
                TokenMode::Exchange(Exchanger::new(auth.channel(), revocations))
            }
        };
        Ok(Upstream::new(&self.tls, name, addr)?.with_tokens(mode))
    }

    /// This workload's own credentials (a token from `auth` for its mTLS
    /// identity), for calls no user is waiting on.
    pub fn workload_credentials(&self) -> Result<WorkloadCredentials, UpstreamError> {
        let auth = Upstream::new(&self.tls, "auth", &self.jwt.auth_addr)?;
        Ok(WorkloadCredentials::new(
            auth.raw_channel(),
            self.tls.identity().into(),
        ))
    }

    /// An empty set of gRPC services guarded by `policy`, whose public
    /// rules also admit the `--load-test-peer` workloads, if any.
    pub fn grpc(&self, policy: Policy) -> Grpc {
        Grpc {
            routes: RoutesBuilder::default(),
            names: Vec::new(),
            policy: policy.with_load_test_peers(&self.load_test_peers),
            max_message_bytes: self.limits.max_message_bytes as usize,
        }
    }

    /// Serves `grpc` until `shutdown` completes, then stops accepting,
    /// reports NOT_SERVING, and gives in-flight calls `--shutdown-grace` to finish.
    pub async fn serve(
        self,
        grpc: Grpc,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), ServeError> {
        let jwt = if grpc.policy.needs_tokens() {
            Some(JwtLayer::new(self.validator()?, self.metrics.clone()))
        } else {
            None
        };
        let Self {
            workload,
            tls,
            limits,
            tls_reload_interval,
            grpc_listener,
            admin_listener,
            metrics,
            registry,
            readiness,
            jwt: _,
            load_test_peers: _,
            validator,
        } = self;
        let Grpc {
            mut routes,
            names,
            policy,
            max_message_bytes,
        } = grpc;

        let (health, health_service) = tonic_health::server::health_reporter();
        for name in &names {
            health
                .set_service_status(*name, tonic_health::ServingStatus::Serving)
                .await;
        }
        routes.add_service(health_service.max_decoding_message_size(max_message_bytes));
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(mesh_proto::FILE_DESCRIPTOR_SET)
            .build_v1()
            .map_err(|e| ServeError::Reflection(e.to_string()))?;
        routes.add_service(reflection);
        let policy = policy
            .service(
                tonic_health::pb::health_server::SERVICE_NAME,
                Rule::any_workload().no_token(),
            )
            .service(
                "grpc.reflection.v1.ServerReflection",
                Rule::any_workload().no_token(),
            );

        // The request path, outermost first. tonic adds the deadline
        // (`grpc-timeout` capped by --request-timeout) and the connection
        // info around this stack.
        let policy = Arc::new(policy);
        let stack = ServiceBuilder::new()
            // Count, time and trace every RPC, refusals included: outermost.
            .layer(RpcLayer::new(metrics.clone(), policy.clone()))
            // Who is calling: the identity from the TLS handshake, or UNAUTHENTICATED.
            .layer(PeerIdLayer::new(metrics.clone()))
            // On whose behalf: the subject's token, verified, or UNAUTHENTICATED.
            // After the peer, which becomes part of the Caller it hands on.
            .option_layer(jwt)
            // May that caller call this RPC: the policy table, or PERMISSION_DENIED
            // (or UNAUTHENTICATED when the RPC needs a token and none came).
            .layer(AuthorizeLayer::new(policy, metrics.clone()));

        let router = tonic::transport::Server::builder()
            .max_concurrent_streams(limits.max_concurrent_streams)
            .http2_max_pending_accept_reset_streams(Some(limits.max_pending_accept_reset_streams))
            .http2_max_local_error_reset_streams(Some(limits.max_local_error_reset_streams))
            .http2_max_header_list_size(limits.max_header_list_bytes)
            .http2_keepalive_interval(Some(std::time::Duration::from_secs(30)))
            .http2_keepalive_timeout(Some(std::time::Duration::from_secs(10)))
            .timeout(limits.request_timeout)
            .layer(stack)
            .add_routes(routes.routes());

        let admin_addr = admin_listener.local_addr().map_err(ServeError::Io)?;
        let stop = CancellationToken::new();
        let _stop_on_exit = stop.clone().drop_guard();
        let incoming = incoming::tls_incoming(grpc_listener, tls.clone(), metrics.clone(), &limits);
        let reloader = tls::spawn_reloader(tls.clone(), tls_reload_interval, metrics.clone());
        let admin = tokio::spawn(admin::serve(
            admin_listener,
            Arc::new(
                registry
                    .into_inner()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            ),
            readiness.clone(),
            stop.clone(),
        ));

        tracing::info!(
            workload = workload.name,
            identity = %tls.identity(),
            grpc = %incoming.local_addr,
            admin = %admin_addr,
            "serving"
        );
        readiness.set("serving", true);

        let draining = CancellationToken::new();
        let signal = {
            let draining = draining.clone();
            let readiness = readiness.clone();
            async move {
                shutdown.await;
                tracing::info!("shutting down: draining in-flight calls");
                readiness.set("serving", false);
                for name in &names {
                    health
                        .set_service_status(*name, tonic_health::ServingStatus::NotServing)
                        .await;
                }
                draining.cancel();
            }
        };
        let grace = limits.shutdown_grace;
        let result = tokio::select! {
            result = router.serve_with_incoming_shutdown(incoming.stream, signal) => result.map_err(ServeError::Transport),
            () = async { draining.cancelled().await; tokio::time::sleep(grace).await } => {
                tracing::warn!(?grace, "shutdown grace exceeded; dropping remaining calls");
                Ok(())
            }
        };
        reloader.abort();
        if let Some(Ok(checks)) = validator.get() {
            checks.refresher.abort();
            checks.follower.abort();
        }
        stop.cancel();
        let _ = admin.await;
        tracing::info!("stopped");
        telemetry::flush();
        result
    }
}

async fn bind(flag: &'static str, addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { flag, addr, source })
}

/// The token validator of a workload and the tasks keeping its keys and
/// revocations fresh.
#[derive(Debug)]
struct TokenChecks {
    validator: Validator,
    refresher: tokio::task::JoinHandle<()>,
    follower: tokio::task::JoinHandle<()>,
}

/// The gRPC services of a workload, with the policy that guards them.
#[derive(Debug)]
pub struct Grpc {
    routes: RoutesBuilder,
    names: Vec<&'static str>,
    policy: Policy,
    max_message_bytes: usize,
}

impl Grpc {
    /// Adds a generated gRPC server, with the configured message size limits;
    /// it reports SERVING on `grpc.health.v1` under its service name.
    pub fn add_service<S>(mut self, service: S) -> Self
    where
        S: mesh_proto::MessageLimits
            + NamedService
            + tower::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.routes
            .add_service(service.with_max_message_size(self.max_message_bytes));
        self.names.push(S::NAME);
        self
    }
}

/// Why a workload could not start. Each message names the flag or file.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Flags(&'static str),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("{flag} {addr}: cannot listen: {source}")]
    Bind {
        flag: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
}

/// Why a running server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("gRPC transport failed: {0}")]
    Transport(tonic::transport::Error),
    #[error("cannot build the reflection service: {0}")]
    Reflection(String),
    #[error("listener failed: {0}")]
    Io(std::io::Error),
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
}
