//! Tokens issued per second for `client_credentials`.
//!
//! ```text
//! cargo bench -p auth --bench token_issuance
//! ```
//!
//! Starts the real auth server in-process on loopback (its own PKI, data
//! directory and config), then sends a fixed number of token requests over
//! HTTPS keep-alive connections (HTTP/1.1, `client_secret_basic`) and
//! prints a Markdown table: throughput and latency per signing algorithm
//! and number of concurrent connections. Client and server share the
//! machine, so the figures are a floor for a dedicated server. It also
//! measures one argon2id check with the default parameters: the cost every
//! request would pay without the verified-secret cache.

// The tests' HTTPS client, shared rather than copied; the benchmark needs
// only part of it.
#[allow(dead_code)]
#[path = "../tests/auth/https.rs"]
mod https;

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, ensure};
use auth::{HashParams, PasswordHash, Secret};
use base64::{Engine, engine::general_purpose::STANDARD};
use clap::Parser;
use mesh::testing::{ClientCert, TestPki};

/// Requests per measured run.
const REQUESTS: usize = 20_000;
/// Requests before measuring (connections, caches, allocator).
const WARM_UP: usize = 500;

/// One measured run.
struct Run {
    alg: &'static str,
    connections: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let pki = TestPki::new();
    let data = tempfile::tempdir()?;
    let secret = Secret::generate();
    let hash = PasswordHash::create(&secret, HashParams::default())?;
    let config = serde_json::json!({
        "scopes": ["orders:read"],
        "audiences": ["gateway"],
        "clients": [{
            "id": "loadgen",
            "secret_hash": hash.as_str(),
            "grants": ["client_credentials"],
            "scopes": ["orders:read"],
            "audiences": ["gateway"],
            "roles": ["USER"],
        }],
    });
    let config_path = data.path().join("config.json");
    std::fs::write(&config_path, config.to_string())?;
    let authorization = format!(
        "Basic {}",
        STANDARD.encode(format!("loadgen:{}", secret.expose()))
    );

    let mut runs = Vec::new();
    for (alg, connection_counts) in [
        ("ES256", &[1, 4, 16][..]),
        ("RS256", &[4][..]),
        ("EdDSA", &[4][..]),
    ] {
        let argv = [
            "auth",
            "--http-listen",
            "127.0.0.1:0",
            "--signing-alg",
            alg,
            "--data-dir",
            &data.path().join(alg).display().to_string(),
            "--config",
            &config_path.display().to_string(),
        ];
        let mut args = auth::Args::try_parse_from(argv)?;
        let jwt = args.mesh.jwt.clone();
        args.mesh = pki.server_args("auth");
        args.mesh.jwt = jwt;
        let app = auth::App::start(args).await?;
        let client = https::Https::new(app.http_addr(), &pki.dir().ca_cert(), &ClientCert::None);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.serve(async move {
            let _ = stopped.await;
        }));
        drive(&client, &authorization, WARM_UP, 4).await?;
        for &connections in connection_counts {
            let started = Instant::now();
            let latencies = drive(&client, &authorization, REQUESTS, connections).await?;
            runs.push(Run {
                alg,
                connections,
                elapsed: started.elapsed(),
                latencies,
            });
        }
        let _ = stop.send(());
        server.await??;
    }

    let checks = 20;
    let started = Instant::now();
    for _ in 0..checks {
        ensure!(hash.verify(secret.expose()), "argon2 check failed");
    }
    let argon2 = started.elapsed() / checks;

    println!("| signing | connections | requests | tokens/s | p50 | p99 |");
    println!("|---|---:|---:|---:|---:|---:|");
    for mut run in runs {
        run.latencies.sort_unstable();
        let at = |q: f64| run.latencies[((run.latencies.len() as f64 - 1.0) * q) as usize];
        println!(
            "| {} | {} | {} | {:.0} | {:.2} ms | {:.2} ms |",
            run.alg,
            run.connections,
            run.latencies.len(),
            run.latencies.len() as f64 / run.elapsed.as_secs_f64(),
            at(0.50).as_secs_f64() * 1e3,
            at(0.99).as_secs_f64() * 1e3,
        );
    }
    println!(
        "\nOne argon2id check (19 MiB, t=2, p=1): {:.1} ms.",
        argon2.as_secs_f64() * 1e3
    );
    Ok(())
}

/// Sends `total` token requests over `connections` keep-alive connections;
/// returns each request's latency. Fails on any answer but 200.
async fn drive(
    client: &https::Https,
    authorization: &str,
    total: usize,
    connections: usize,
) -> anyhow::Result<Vec<Duration>> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (client, next, authorization) =
            (client.clone(), next.clone(), authorization.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut conn = client.connect().await;
            let mut latencies = Vec::new();
            let headers = [("authorization", authorization)];
            while next.fetch_add(1, Ordering::Relaxed) < total {
                let started = Instant::now();
                let reply = conn
                    .post_form(
                        "/oauth2/token",
                        "grant_type=client_credentials&scope=orders%3Aread",
                        &headers,
                    )
                    .await;
                ensure!(
                    reply.status == 200,
                    "token request answered {}",
                    reply.status
                );
                latencies.push(started.elapsed());
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    let mut all = Vec::with_capacity(total);
    for task in tasks {
        all.extend(task.await.context("request task")??);
    }
    Ok(all)
}
