//! Start-up and serving: [`App::start`] checks the flags, binds every port
//! and loads config, credentials, database and keys; [`App::serve`] runs
//! the gRPC port, the HTTPS port and the maintenance task until shutdown.
//!
//! Binding happens in `start`, so tests that start the server on port 0
//! can connect as soon as it returns. The binary and the tests share this
//! one code path.

use std::{future::Future, net::SocketAddr, path::PathBuf, sync::Arc};

use tokio::{net::TcpListener, sync::watch};
use tokio_util::sync::CancellationToken;

use crate::{
    args::{Args, secs},
    authority::{Authority, Settings},
    clients::ClientAuthenticator,
    clock::Clock,
    config::{ConfigError, ConfigFile},
    credentials::{self, CredentialError},
    directory::Directory,
    files, grpc, http,
    keys::{KeyError, KeyPolicy, Keyring},
    maintenance,
    metrics::Metrics,
    password::{HashParams, Hasher},
    rotation::Rotations,
    store::{Store, StoreError},
    throttle::ThrottlePolicy,
    tokens::Tokens,
    users::UserAuthenticator,
};

/// The auth server, bound and loaded, not yet serving.
#[derive(Debug)]
pub struct App {
    server: mesh::Server,
    grpc: mesh::Grpc,
    http: TcpListener,
    router: axum::Router,
    limits: mesh::Limits,
    auth: Arc<Authority>,
}

impl App {
    /// Starts with the system clock.
    pub async fn start(args: Args) -> Result<Self, StartError> {
        Self::start_with_clock(args, Clock::system()).await
    }

    /// Starts with `clock` as the time of every token, key and backoff.
    pub async fn start_with_clock(args: Args, clock: Clock) -> Result<Self, StartError> {
        args.check().map_err(StartError::Flags)?;
        let limits = args.mesh.limits.clone();
        let mut server = mesh::Server::start(mesh::AUTH, args.mesh.clone()).await?;
        let http = TcpListener::bind(args.http_listen)
            .await
            .map_err(|source| mesh::StartError::Bind {
                flag: "--http-listen",
                addr: args.http_listen,
                source,
            })?;
        let issuer = args.mesh.jwt.issuer.clone();

        let data_dir = &args.data_dir;
        files::create_private_dir(data_dir)
            .map_err(|e| StartError::DataDir(data_dir.clone(), e.to_string()))?;
        let store = Store::open(data_dir).await?;
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let hasher = Hasher::new(cores);
        let (config, demo) = match &args.config {
            Some(path) => (ConfigFile::load(path)?, false),
            None => (ConfigFile::demo()?, true),
        };
        if demo {
            tracing::info!(
                credentials = %data_dir.join(credentials::DEMO_CREDENTIALS_FILE).display(),
                "no --config: serving the demo seed"
            );
        }
        let env = credentials::process_env;
        let params = HashParams::default();
        let hashes = credentials::resolve(&config, demo, data_dir, &hasher, &env, params).await?;
        let directory = Arc::new(Directory::new(config, hashes).map_err(StartError::Flags)?);

        let ttl = secs(args.access_token_ttl);
        let skew = secs(args.mesh.jwt.jwt_skew);
        let policy = KeyPolicy {
            alg: args.signing_alg,
            publish_ahead: secs(args.key_publish_ahead),
            retire_after: ttl + skew,
            rotation_interval: args.key_rotation_interval.map(secs),
        };
        let keys = Arc::new(Keyring::open(store.clone(), data_dir, policy, clock.now()).await?);
        if args.enable_password_grant {
            tracing::warn!("password grant enabled: for development only");
        }
        let settings = Settings {
            refresh_ttl: secs(args.refresh_token_ttl),
            password_grant: args.enable_password_grant,
            jwks_max_age: (policy.publish_ahead / 2).clamp(1, 300),
            trusted_proxies: args.trusted_proxies.iter().cloned().collect(),
        };
        let metrics = Metrics::register(server.metrics().clone(), server.registry_mut());
        let rotations = Rotations::load(
            store.client_secrets().await.map_err(StoreError::from)?,
            |id| directory.client(id).map(|c| c.secret.as_str().to_owned()),
        )
        .map_err(StartError::Flags)?;
        let throttle = ThrottlePolicy::with_backoff(secs(args.login_backoff));
        let auth = Arc::new(Authority {
            settings,
            clients: ClientAuthenticator::new(
                directory.clone(),
                hasher.clone(),
                throttle,
                rotations,
                metrics.clone(),
            ),
            users: UserAuthenticator::new(directory.clone(), hasher, throttle),
            directory,
            tokens: Tokens::new(issuer, ttl, skew, keys.clone()),
            keys,
            store,
            metrics,
            revocations: Default::default(),
            clock,
        });
        let grpc = server
            .grpc(grpc::policy())
            .add_service(grpc::service(auth.clone()))
            .add_service(grpc::workload_tokens(auth.clone()))
            .add_service(grpc::revocations(auth.clone()));
        let router = http::router(auth.clone());
        Ok(Self {
            server,
            grpc,
            http,
            router,
            limits,
            auth,
        })
    }

    /// Where the HTTPS (OAuth 2.0) port listens.
    pub fn http_addr(&self) -> SocketAddr {
        self.http
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Where the mutual-TLS gRPC port listens.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.server.grpc_addr()
    }

    /// Where the admin port (`/metrics`, `/healthz`, `/readyz`) listens.
    pub fn admin_addr(&self) -> SocketAddr {
        self.server.admin_addr()
    }

    /// The issuer URL tokens carry.
    pub fn issuer(&self) -> &str {
        self.auth.tokens.issuer()
    }

    /// Changes whenever the signing key set changes (rotation, retirement).
    pub fn key_changes(&self) -> watch::Receiver<u64> {
        self.auth.keys.subscribe()
    }

    /// Serves until `shutdown` completes or a port fails, then drains both
    /// ports (each gives open requests `--shutdown-grace`).
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send) -> Result<(), ServeError> {
        let Self {
            server,
            grpc,
            http,
            router,
            limits,
            auth,
        } = self;
        let stop = CancellationToken::new();
        let tls = server.tls().clone();
        let mesh_metrics = server.metrics().clone();
        let readiness = server.readiness().clone();
        let maintenance = tokio::spawn(maintenance::run(auth, stop.clone()));
        let https = {
            let stop = stop.clone();
            async move {
                readiness.set("oauth_http", true);
                let done = stop.clone().cancelled_owned();
                let result =
                    mesh::https::serve(http, tls, router, &limits, mesh_metrics, done).await;
                readiness.set("oauth_http", false);
                stop.cancel();
                result
            }
        };
        let grpc = {
            let stop = stop.clone();
            async move {
                let result = server.serve(grpc, stop.clone().cancelled_owned()).await;
                stop.cancel();
                result
            }
        };
        let trigger = async {
            tokio::select! {
                () = shutdown => stop.cancel(),
                () = stop.cancelled() => {}
            }
        };
        let ((), https, grpc) = tokio::join!(trigger, https, grpc);
        maintenance.abort();
        https.map_err(ServeError::Https)?;
        grpc.map_err(ServeError::Grpc)
    }
}

/// Why the server could not start. Each message names the flag or file.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Flags(String),
    #[error(transparent)]
    Mesh(#[from] mesh::StartError),
    #[error("--data-dir {0}: {1}")]
    DataDir(PathBuf, String),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Credentials(#[from] CredentialError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("signing keys: {0}")]
    Keys(#[from] KeyError),
}

/// Why a running server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("HTTPS port: {0}")]
    Https(std::io::Error),
    #[error(transparent)]
    Grpc(#[from] mesh::server::ServeError),
}
