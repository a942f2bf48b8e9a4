//! What security costs on one hop, measured side by side in one run.
//!
//! `cargo bench -p mesh --bench security_cost` prints two Markdown tables:
//!
//! 1. token validation per call, for ES256, RS256 and EdDSA, with and
//!    without the verified-token cache;
//! 2. unary-call throughput of the same handler served plaintext (h2c, no
//!    checks: a server built here, not a mode the kit offers) and by the
//!    kit (mutual TLS, workload identity, JWT validation with the cache,
//!    policy table), and their ratio.
//!
//! Rounds alternate between the variants so that a noisy neighbour hurts
//! both alike; every loop is bounded by a request count.

use std::{
    future::Future,
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    time::{Duration, Instant},
};

use mesh::{
    Caller, Metrics, Policy, Rule, Server,
    jwt::{JwksClient, JwksSource, SystemClock, Validator, ValidatorConfig, jwks::JwksTiming},
    testing::{Running, TEST_ISSUER, TestIssuer, TestPki, raw_channel, start_key_server},
};
use mesh_proto::auth::v1::{
    ExchangeTokenRequest, GetJwksRequest, GetJwksResponse, TokenResponse,
    auth_client::AuthClient,
    auth_server::{Auth, AuthServer, SERVICE_NAME},
};
use tonic::{Request, Response, Status, transport::Channel};

/// Serves a fixed JWKS document from memory.
#[derive(Debug)]
struct StaticJwks(String);

impl JwksSource for StaticJwks {
    fn fetch(&self) -> Pin<Box<dyn Future<Output = Result<String, String>> + Send + '_>> {
        Box::pin(async move { Ok(self.0.clone()) })
    }
}

fn validator(issuer: &TestIssuer, cache: usize) -> Validator {
    let algorithms = vec![
        jsonwebtoken::Algorithm::ES256,
        jsonwebtoken::Algorithm::RS256,
        jsonwebtoken::Algorithm::EdDSA,
    ];
    let timing = JwksTiming {
        refresh_interval: Duration::from_secs(300),
        min_refresh_interval: Duration::from_secs(10),
        max_staleness: Duration::from_secs(3600),
    };
    let (metrics, _) = Metrics::new("bench");
    let jwks = JwksClient::new(
        Box::new(StaticJwks(issuer.jwks())),
        algorithms.clone(),
        timing,
        Arc::new(SystemClock),
        metrics,
    );
    let config = ValidatorConfig {
        issuer: TEST_ISSUER.to_owned(),
        audience: "orders".to_owned(),
        algorithms,
        skew: Duration::from_secs(30),
        cache_capacity: cache,
    };
    Validator::new(config, Arc::new(jwks), Arc::new(SystemClock))
}

async fn per_call(validator: &Validator, token: &str, n: u32) -> Duration {
    let start = Instant::now();
    for _ in 0..n {
        validator.validate(token).await.expect("valid token");
    }
    start.elapsed() / n
}

async fn validation_table() {
    let issuer = TestIssuer::new();
    println!("| algorithm | uncached (µs/call) | cached (µs/call) | speed-up |");
    println!("|---|---:|---:|---:|");
    for (kid, alg) in [("es-1", "ES256"), ("rs-1", "RS256"), ("ed-1", "EdDSA")] {
        let token = issuer.token(kid, &issuer.claims("alice", &["orders"]));
        let uncached = validator(&issuer, 0);
        let cached = validator(&issuer, 10_000);
        assert!(uncached.jwks().refresh().await && cached.jwks().refresh().await);
        per_call(&uncached, &token, 200).await;
        per_call(&cached, &token, 10_000).await;
        let slow = per_call(&uncached, &token, 3_000).await;
        let fast = per_call(&cached, &token, 300_000).await;
        println!(
            "| {alg} | {:.2} | {:.3} | {:.0}× |",
            micros(slow),
            micros(fast),
            slow.as_secs_f64() / fast.as_secs_f64()
        );
    }
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// The handler both servers run: a tiny reply, so the hop dominates.
#[derive(Debug, Clone, Copy)]
struct Hello;

#[tonic::async_trait]
impl Auth for Hello {
    async fn get_jwks(
        &self,
        request: Request<GetJwksRequest>,
    ) -> Result<Response<GetJwksResponse>, Status> {
        let who = request
            .extensions()
            .get::<Caller>()
            .map(|c| c.subject().len())
            .unwrap_or_default();
        Ok(Response::new(GetJwksResponse {
            jwks_json: format!("hello {who}"),
        }))
    }

    async fn exchange_token(
        &self,
        _: Request<ExchangeTokenRequest>,
    ) -> Result<Response<TokenResponse>, Status> {
        Err(Status::unimplemented("not part of the benchmark"))
    }
}

/// Sends `total` calls over `channels` with `concurrency` in flight and
/// returns calls per second.
async fn throughput(
    channels: &[Channel],
    token: Option<&str>,
    total: usize,
    concurrency: usize,
) -> f64 {
    let header = token.map(|t| {
        format!("Bearer {t}")
            .parse::<tonic::metadata::MetadataValue<_>>()
            .expect("header")
    });
    let start = Instant::now();
    let per_task = total / concurrency;
    let tasks: Vec<_> = (0..concurrency)
        .map(|i| {
            let mut client = AuthClient::new(channels[i % channels.len()].clone());
            let header = header.clone();
            tokio::spawn(async move {
                for _ in 0..per_task {
                    let mut request = Request::new(GetJwksRequest {});
                    if let Some(h) = &header {
                        request.metadata_mut().insert("authorization", h.clone());
                    }
                    client.get_jwks(request).await.expect("call");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("load task");
    }
    (per_task * concurrency) as f64 / start.elapsed().as_secs_f64()
}

async fn plaintext_server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(AuthServer::new(Hello))
            .serve_with_incoming(incoming),
    );
    addr
}

async fn secure_server(pki: &TestPki, auth: &Running) -> Running {
    let mut args = pki.server_args("orders");
    args.jwt.auth_addr = auth.grpc_addr.to_string();
    let server = Server::start(mesh::ORDERS, args).await.expect("start");
    let policy = Policy::new().rpc(
        SERVICE_NAME,
        "GetJwks",
        Rule::peers(["loadgen"]).scopes(["orders:read"]),
    );
    let grpc = server.grpc(policy).add_service(AuthServer::new(Hello));
    server.validator().expect("validator").wait_ready().await;
    Running::spawn(server, grpc)
}

async fn hop_table() {
    const CONNECTIONS: usize = 4;
    const CONCURRENCY: usize = 64;
    const CALLS: usize = 40_000;
    const ROUNDS: usize = 3;

    let pki = TestPki::new();
    let (auth, keys) = start_key_server(&pki).await;
    let secure = secure_server(&pki, &auth).await;
    let plain_addr = plaintext_server().await;
    let token = keys
        .issuer
        .token("es-1", &keys.issuer.claims("alice", &["orders"]));

    let plain: Vec<Channel> = (0..CONNECTIONS)
        .map(|_| mesh::testing::plaintext_channel(plain_addr))
        .collect();
    let loadgen = (&pki.files("loadgen")).into();
    let tls: Vec<Channel> = (0..CONNECTIONS)
        .map(|_| raw_channel(&loadgen, &pki.dir().ca_cert(), secure.grpc_addr))
        .collect();

    // Warm up both: connections, caches, allocator.
    throughput(&plain, None, 4_000, CONCURRENCY).await;
    throughput(&tls, Some(&token), 4_000, CONCURRENCY).await;
    let (mut plain_runs, mut secure_runs) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        plain_runs.push(throughput(&plain, None, CALLS, CONCURRENCY).await);
        secure_runs.push(throughput(&tls, Some(&token), CALLS, CONCURRENCY).await);
    }
    let median = |runs: &mut Vec<f64>| {
        runs.sort_by(f64::total_cmp);
        runs[runs.len() / 2]
    };
    let (p, s) = (median(&mut plain_runs), median(&mut secure_runs));
    println!("| variant | calls/s (median of {ROUNDS}) | ratio to plaintext |");
    println!("|---|---:|---:|");
    println!("| plaintext h2c, no checks | {p:.0} | 1.00 |");
    println!("| mTLS + JWT (cached) + policy | {s:.0} | {:.2} |", s / p);
    println!();
    println!(
        "{CALLS} unary calls per round, {CONCURRENCY} in flight over {CONNECTIONS} connections, client and server in one process."
    );
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument selects a table.
    let filter = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        if "validation".contains(&filter) {
            println!("\n### Token validation per call\n");
            validation_table().await;
        }
        if "hop".contains(&filter) {
            println!("\n### One secure hop vs plaintext\n");
            hop_table().await;
        }
    });
}
