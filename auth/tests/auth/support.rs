//! The test fixture: the real auth server started in-process on port 0 with
//! a throw-away PKI, a temporary data directory, a config whose secrets the
//! test knows, and a manual clock. Bound before it is spawned, so requests
//! can go out as soon as `start` returns.

use std::{
    path::{Path, PathBuf},
    sync::{Arc, LazyLock},
    time::Duration,
};

use base64::{Engine, engine::general_purpose::STANDARD, engine::general_purpose::URL_SAFE_NO_PAD};
use clap::Parser;
use mesh::testing::{ClientCert, TestPki, http_get, metric};
use serde_json::Value;
use tempfile::TempDir;
use tokio::{sync::oneshot, task::JoinHandle};

use crate::https::{Https, Reply};

/// The cheapest argon2 parameters a config may hold (OWASP's minimum).
pub(crate) const TEST_HASH: auth::HashParams = auth::HashParams {
    memory_kib: 19_456,
    iterations: 2,
};

/// The secret of client `id` in the test config.
pub(crate) fn secret(id: &str) -> String {
    format!("{id}-secret-for-tests")
}

/// The password of user `name` in the test config.
pub(crate) fn password(name: &str) -> String {
    format!("{name}-password-for-tests")
}

/// The demo seed, plus a second CLI client (`cli2`) for cross-client
/// checks and one with public exchange rights (`exchanger`), with hashes
/// of [`secret`] and [`password`], as JSON.
static TEST_CONFIG: LazyLock<String> = LazyLock::new(|| {
    let demo = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/demo.toml"))
        .expect("read demo seed");
    let mut config: Value = toml::from_str(&demo).expect("demo seed is TOML");
    let mut cli2 = config["clients"][1].clone();
    cli2["id"] = "cli2".into();
    // A backend client allowed to exchange its users' tokens for `orders`
    // at the public endpoint (RFC 8693), as a config may grant.
    let mut exchanger = config["clients"][1].clone();
    exchanger["id"] = "exchanger".into();
    exchanger["exchange_audiences"] = serde_json::json!(["orders"]);
    let clients = config["clients"].as_array_mut().expect("clients");
    clients.push(cli2);
    clients.push(exchanger);
    let hash = |s: String| {
        auth::PasswordHash::create(&auth::Secret::new(s), TEST_HASH)
            .expect("hash")
            .as_str()
            .to_owned()
    };
    for client in config["clients"].as_array_mut().expect("clients") {
        let id = client["id"].as_str().expect("id").to_owned();
        client["secret_hash"] = hash(secret(&id)).into();
    }
    for user in config["users"].as_array_mut().expect("users") {
        let name = user["username"].as_str().expect("username").to_owned();
        user["password_hash"] = hash(password(&name)).into();
    }
    config.to_string()
});

/// The test config as JSON, for a test that writes a variant of it.
pub(crate) fn test_config() -> Value {
    serde_json::from_str(&TEST_CONFIG).expect("the test config is JSON")
}

/// How to start.
#[derive(Debug, Default)]
pub(crate) struct Options {
    /// Extra flags, e.g. `["--enable-password-grant"]`.
    pub(crate) args: Vec<String>,
    /// Serve the built-in demo seed instead of the test config.
    pub(crate) demo_seed: bool,
    /// Serve this config file instead of the test config.
    pub(crate) config: Option<PathBuf>,
}

impl Options {
    /// With these extra flags.
    pub(crate) fn args(args: &[&str]) -> Self {
        Self {
            args: args.iter().map(|s| (*s).to_owned()).collect(),
            ..Self::default()
        }
    }
}

/// A running auth server.
pub(crate) struct TestAuth {
    pub(crate) pki: Arc<TestPki>,
    pub(crate) data: Arc<TempDir>,
    pub(crate) clock: auth::ManualClock,
    pub(crate) http: std::net::SocketAddr,
    pub(crate) grpc: std::net::SocketAddr,
    pub(crate) admin: std::net::SocketAddr,
    pub(crate) issuer: String,
    pub(crate) key_changes: tokio::sync::watch::Receiver<u64>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), auth::ServeError>>>,
}

impl TestAuth {
    /// Default flags, the test config.
    pub(crate) async fn start() -> Self {
        Self::start_with(Options::default()).await
    }

    /// With `options`, a fresh PKI, data directory and clock.
    pub(crate) async fn start_with(options: Options) -> Self {
        let pki = Arc::new(TestPki::new());
        let data = Arc::new(tempfile::tempdir().expect("data dir"));
        Self::launch(pki, data, auth::ManualClock::starting_now(), options).await
    }

    /// Stops this server and starts another on the same data directory,
    /// PKI and clock.
    pub(crate) async fn restart(self, options: Options) -> Self {
        self.try_restart(options).await.expect("auth restarts")
    }

    /// Like [`Self::restart`], or says why the new server refused to start.
    pub(crate) async fn try_restart(self, options: Options) -> Result<Self, auth::StartError> {
        let (pki, data, clock) = (self.pki.clone(), self.data.clone(), self.clock.clone());
        self.stop().await;
        Self::try_launch(pki, data, clock, options).await
    }

    async fn launch(
        pki: Arc<TestPki>,
        data: Arc<TempDir>,
        clock: auth::ManualClock,
        options: Options,
    ) -> Self {
        Self::try_launch(pki, data, clock, options)
            .await
            .expect("auth starts")
    }

    /// Starts with `options`, or says why the server refused to.
    pub(crate) async fn try_start(options: Options) -> Result<Self, auth::StartError> {
        let pki = Arc::new(TestPki::new());
        let data = Arc::new(tempfile::tempdir().expect("data dir"));
        Self::try_launch(pki, data, auth::ManualClock::starting_now(), options).await
    }

    async fn try_launch(
        pki: Arc<TestPki>,
        data: Arc<TempDir>,
        clock: auth::ManualClock,
        options: Options,
    ) -> Result<Self, auth::StartError> {
        let mut argv: Vec<String> = ["auth", "--http-listen", "127.0.0.1:0", "--data-dir"]
            .map(str::to_owned)
            .to_vec();
        argv.push(data.path().join("auth").display().to_string());
        if let Some(config) = options.config {
            argv.push("--config".to_owned());
            argv.push(config.display().to_string());
        } else if !options.demo_seed {
            let config = data.path().join("config.json");
            std::fs::write(&config, TEST_CONFIG.as_bytes()).expect("write config");
            argv.push("--config".to_owned());
            argv.push(config.display().to_string());
        }
        argv.extend(options.args);
        let mut args = auth::Args::try_parse_from(argv).expect("valid flags");
        // The kit's test arguments (ports 0, this PKI), keeping the token flags.
        let jwt = args.mesh.jwt.clone();
        args.mesh = pki.server_args("auth");
        args.mesh.jwt = jwt;
        let app = auth::App::start_with_clock(args, clock.clock()).await?;
        let (stop, stopped) = oneshot::channel::<()>();
        let (http, grpc, admin) = (app.http_addr(), app.grpc_addr(), app.admin_addr());
        let (issuer, key_changes) = (app.issuer().to_owned(), app.key_changes());
        let task = tokio::spawn(app.serve(async move {
            let _ = stopped.await;
        }));
        Ok(Self {
            pki,
            data,
            clock,
            http,
            grpc,
            admin,
            issuer,
            key_changes,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// Stops the server and waits until it has drained.
    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await
                .expect("server task")
                .expect("server stops cleanly");
        }
    }

    /// The data directory given to the server.
    pub(crate) fn data_dir(&self) -> PathBuf {
        self.data.path().join("auth")
    }

    /// The CA bundle.
    pub(crate) fn ca(&self) -> PathBuf {
        self.pki.dir().ca_cert()
    }

    /// An HTTPS client without a client certificate (an outside client).
    pub(crate) fn client(&self) -> Https {
        Https::new(self.http, &self.ca(), &ClientCert::None)
    }

    /// An HTTPS client presenting workload `name`'s certificate.
    pub(crate) fn workload(&self, name: &str) -> Https {
        Https::new(
            self.http,
            &self.ca(),
            &ClientCert::from(&self.pki.files(name)),
        )
    }

    /// POSTs `params` to the token endpoint as client `id` (basic auth).
    pub(crate) async fn token(&self, id: &str, params: &[(&str, &str)]) -> Reply {
        post(&self.client(), "/oauth2/token", params, Some(id)).await
    }

    /// POSTs an empty body to `path` (an admin call), with `bearer` as
    /// the `Authorization: Bearer` token when given.
    pub(crate) async fn post_bearer(&self, path: &str, bearer: Option<&str>) -> Reply {
        let headers: Vec<(&str, String)> = bearer
            .map(|t| ("authorization", format!("Bearer {t}")))
            .into_iter()
            .collect();
        self.client().post_form(path, "", &headers).await
    }

    /// A `client_credentials` access token of client `id` with `extra` parameters.
    pub(crate) async fn client_token(&self, id: &str, extra: &[(&str, &str)]) -> String {
        let mut params = vec![("grant_type", "client_credentials")];
        params.extend_from_slice(extra);
        let reply = self.token(id, &params).await;
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        reply.json()["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// A password-grant login of `user` through client `id` (needs
    /// `--enable-password-grant`): the whole token response.
    pub(crate) async fn login(&self, id: &str, user: &str, extra: &[(&str, &str)]) -> Value {
        let pw = password(user);
        let mut params = vec![
            ("grant_type", "password"),
            ("username", user),
            ("password", pw.as_str()),
        ];
        params.extend_from_slice(extra);
        let reply = self.token(id, &params).await;
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        reply.json()
    }

    /// ada's admin token for the auth audience (needs the password grant).
    pub(crate) async fn admin_token(&self) -> String {
        let login = self
            .login(
                "meshctl",
                "ada",
                &[("scope", "admin"), ("audience", "auth")],
            )
            .await;
        login["access_token"]
            .as_str()
            .expect("admin token")
            .to_owned()
    }

    /// Introspects `token` as client `id`.
    pub(crate) async fn introspect(&self, id: &str, token: &str) -> Value {
        let reply = post(
            &self.client(),
            "/oauth2/introspect",
            &[("token", token)],
            Some(id),
        )
        .await;
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        reply.json()
    }

    /// The JWKS document.
    pub(crate) async fn jwks(&self) -> Value {
        let reply = self.client().get("/.well-known/jwks.json").await;
        assert_eq!(reply.status, 200);
        reply.json()
    }

    /// The kids in the JWKS, newest first.
    pub(crate) async fn kids(&self) -> Vec<String> {
        self.jwks().await["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .map(|k| k["kid"].as_str().expect("kid").to_owned())
            .collect()
    }

    /// The admin port's metrics text.
    pub(crate) async fn metrics(&self) -> String {
        http_get(self.admin, "/metrics").await.1
    }

    /// The value of a metric series.
    pub(crate) async fn metric(&self, name: &str, labels: &str) -> f64 {
        metric(&self.metrics().await, name, labels)
    }

    /// Moves the server's clock.
    pub(crate) fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }
}

impl Drop for TestAuth {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// POSTs form `params` to `path`, authenticated as client `id` with
/// `client_secret_basic` when given.
pub(crate) async fn post(
    client: &Https,
    path: &str,
    params: &[(&str, &str)],
    id: Option<&str>,
) -> Reply {
    let body = serde_urlencoded::to_string(params).expect("form");
    let headers: Vec<(&str, String)> = id
        .map(|id| ("authorization", basic(id, &secret(id))))
        .into_iter()
        .collect();
    client.post_form(path, &body, &headers).await
}

/// `Authorization: Basic` for `id` and `secret`.
pub(crate) fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

/// The decoded header and claims of a compact JWT (no verification).
pub(crate) fn decode(token: &str) -> (Value, Value) {
    let mut parts = token.split('.');
    let mut part = || {
        let bytes = URL_SAFE_NO_PAD
            .decode(parts.next().expect("JWT part"))
            .expect("base64url");
        serde_json::from_slice::<Value>(&bytes).expect("JSON")
    };
    (part(), part())
}

/// Verifies `token` with the JWKS the way an outside verifier would: key
/// by `kid` from the published set, algorithm from that key, `iss` and
/// `aud` checked. Returns the claims.
pub(crate) fn verify(token: &str, jwks: &Value, issuer: &str, audience: &str) -> Value {
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks.clone()).expect("JWKS");
    let header = jsonwebtoken::decode_header(token).expect("header");
    let kid = header.kid.expect("kid");
    let jwk = set.find(&kid).expect("kid published in the JWKS");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).expect("decoding key");
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.leeway = 0;
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .expect("token verifies against the JWKS")
        .claims
}

/// The mode bits of `path`.
pub(crate) fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}
