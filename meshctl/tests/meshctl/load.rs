//! `meshctl load` against a real accounts server started in the test: the
//! kit's own server (mutual TLS, token validation against a test key
//! server, a public rule with load testing switched on for `loadgen`,
//! as `meshctl up --load-test` runs the services) with a handler that
//! answers after a fixed delay, and can hold every request that arrives
//! during a window after the first one. Assertions use request counts and
//! lower bounds on latency, never how fast this machine happens to be.

use std::{path::Path, process::Output, sync::Arc, time::Duration};

use mesh::{
    Policy, Rule,
    testing::{KeyServer, Running, TestPki, spawn_service, start_key_server},
};
use mesh_proto::accounts::v1::{
    Account, CreditRequest, DebitRequest, DepositRequest, FreezeAccountRequest, GetAccountRequest,
    LedgerEntry, ListAccountsRequest, ListAccountsResponse, ListLedgerEntriesRequest,
    ListLedgerEntriesResponse, OpenAccountRequest,
    accounts_server::{Accounts, AccountsServer},
};
use serde_json::Value;
use tempfile::TempDir;
use tokio::{sync::Mutex, time::Instant};
use tonic::{Request, Response, Status};

/// How the test server answers GetAccount.
#[derive(Debug, Default)]
struct Slow {
    delay: Duration,
    /// Requests arriving within this long after the first are all held
    /// until the window ends.
    stall: Duration,
    first: Mutex<Option<Instant>>,
}

#[tonic::async_trait]
impl Accounts for Slow {
    async fn get_account(
        &self,
        request: Request<GetAccountRequest>,
    ) -> Result<Response<Account>, Status> {
        let stall_until = *self.first.lock().await.get_or_insert_with(Instant::now) + self.stall;
        tokio::time::sleep_until(stall_until).await;
        tokio::time::sleep(self.delay).await;
        Ok(Response::new(Account {
            account_id: request.into_inner().account_id,
            currency: "EUR".to_owned(),
            ..Account::default()
        }))
    }

    async fn open_account(
        &self,
        _: Request<OpenAccountRequest>,
    ) -> Result<Response<Account>, Status> {
        Err(Status::unimplemented("not in this test"))
    }
    async fn list_accounts(
        &self,
        _: Request<ListAccountsRequest>,
    ) -> Result<Response<ListAccountsResponse>, Status> {
        Err(Status::unimplemented("not in this test"))
    }
    async fn deposit(&self, _: Request<DepositRequest>) -> Result<Response<LedgerEntry>, Status> {
        Err(Status::unimplemented("not in this test"))
    }
    async fn freeze_account(
        &self,
        _: Request<FreezeAccountRequest>,
    ) -> Result<Response<Account>, Status> {
        Err(Status::unimplemented("not in this test"))
    }
    async fn list_ledger_entries(
        &self,
        _: Request<ListLedgerEntriesRequest>,
    ) -> Result<Response<ListLedgerEntriesResponse>, Status> {
        Err(Status::unimplemented("not in this test"))
    }
    async fn debit(&self, _: Request<DebitRequest>) -> Result<Response<LedgerEntry>, Status> {
        Err(Status::unimplemented("not in this test"))
    }
    async fn credit(&self, _: Request<CreditRequest>) -> Result<Response<LedgerEntry>, Status> {
        Err(Status::unimplemented("not in this test"))
    }
}

/// A running accounts server, its PKI laid out as `<data-dir>/certs`, and
/// a valid token for `loadgen` at audience `accounts`.
struct Fixture {
    data: TempDir,
    server: Running,
    token: String,
    _pki: TestPki,
    _auth: (Running, KeyServer),
}

impl Fixture {
    async fn start(slow: Slow) -> Self {
        let pki = TestPki::new();
        let auth = start_key_server(&pki).await;
        let mut args = pki.service_args("accounts", &auth.0);
        // Load testing is off unless switched on (case 52).
        args.load_test_peers = vec!["loadgen".to_owned()];
        let slow = Arc::new(slow);
        let server = spawn_service(mesh::ACCOUNTS, args, async |server| {
            let policy = Policy::new().rpc(
                "accounts.v1.Accounts",
                "GetAccount",
                Rule::public().scopes(["accounts:read"]),
            );
            Ok::<_, std::convert::Infallible>(
                server
                    .grpc(policy)
                    .add_service(AccountsServer::from_arc(slow)),
            )
        })
        .await;
        let issuer = &auth.1.issuer;
        let token = issuer.token("es-1", &issuer.claims("loadgen", &["accounts"]));
        let data = tempfile::tempdir().expect("temp dir");
        let certs = data.path().join("certs");
        std::fs::create_dir(&certs).expect("certs dir");
        for entry in std::fs::read_dir(pki.dir().path()).expect("PKI dir") {
            let path = entry.expect("entry").path();
            if path.is_file() {
                std::fs::copy(&path, certs.join(path.file_name().expect("name"))).expect("copy");
            }
        }
        Self {
            data,
            server,
            token,
            _pki: pki,
            _auth: auth,
        }
    }

    /// `meshctl load --scenario direct` at this server with `extra` flags
    /// and the token.
    async fn load(&self, extra: &[&str]) -> Output {
        self.load_with(extra, &[("MESHCTL_LOAD_TOKEN", &self.token)])
            .await
    }

    /// The same with environment `env` (and no token unless it has one).
    async fn load_with(&self, extra: &[&str], env: &[(&str, &str)]) -> Output {
        let target = self.server.grpc_addr.to_string();
        let data_dir = self.data.path().to_str().expect("UTF-8 path");
        let mut args = vec![
            "--scenario",
            "direct",
            "--target",
            &target,
            "--data-dir",
            data_dir,
            "--account",
            "acc-test",
        ];
        args.extend_from_slice(extra);
        meshctl(&args, env).await
    }
}

/// Runs `meshctl load ARGS` with `env`, for at most two minutes.
async fn meshctl(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_meshctl"));
    command.arg("load").args(args).kill_on_drop(true);
    for (k, v) in env {
        command.env(k, v);
    }
    tokio::time::timeout(Duration::from_secs(120), command.output())
        .await
        .expect("meshctl load ended within two minutes")
        .expect("run meshctl")
}

/// The JSON report of a successful run.
fn report(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "meshctl load failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

/// The number after `label` at the start of a line of the human report.
fn human_value(text: &str, label: &str) -> f64 {
    text.lines()
        .find_map(|line| {
            let rest = line.trim_start().strip_prefix(label)?;
            let value = rest
                .starts_with(' ')
                .then(|| rest.split_whitespace().next())??;
            value.parse().ok()
        })
        .unwrap_or_else(|| panic!("no '{label}' in the report:\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_delay_shows_in_every_percentile_and_both_reports_agree() {
    let f = Fixture::start(Slow {
        delay: Duration::from_millis(20),
        ..Slow::default()
    })
    .await;
    let html = f.data.path().join("report.html");
    let html_arg = html.to_str().expect("UTF-8 path");
    let out = f
        .load(&[
            "--rate",
            "50",
            "--requests",
            "60",
            "--json",
            "--html",
            html_arg,
        ])
        .await;
    let json = report(&out);
    let requests = &json["requests"];
    assert_eq!(n(&requests["sent"]), 60, "{json}");
    assert_eq!(n(&requests["ok"]), 60, "{json}");
    assert_eq!(n(&requests["errors"]), 0, "{json}");
    let latency = &json["latency_us"];
    let (p50, p99, max) = (n(&latency["p50"]), n(&latency["p99"]), n(&latency["max"]));
    assert!(p50 >= 20_000 && p99 >= 20_000, "{latency}");
    assert!(max >= p99 && p99 >= p50, "{latency}");
    // A generous ceiling: a loaded machine adds milliseconds, not seconds.
    assert!(p50 < 5_000_000, "{latency}");

    // The human report went to stderr, with the same numbers.
    let human = String::from_utf8_lossy(&out.stderr);
    for label in ["sent", "ok", "errors", "delayed"] {
        assert_eq!(
            human_value(&human, label) as u64,
            n(&requests[label]),
            "{label}"
        );
    }
    for (label, key) in [
        ("p50", "p50"),
        ("p99", "p99"),
        ("p99.9", "p999"),
        ("max", "max"),
    ] {
        let shown = (human_value(&human, label) * 1000.0).round() as u64;
        assert_eq!(shown, n(&latency[key]), "{label}:\n{human}");
    }

    let page = std::fs::read_to_string(&html).expect("HTML report");
    assert!(page.contains("<svg") && page.contains("p99") && !page.contains("http://cdn"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_server_is_charged_for_the_stall_and_the_rate_is_kept() {
    let f = Fixture::start(Slow {
        delay: Duration::from_millis(1),
        stall: Duration::from_secs(1),
        ..Slow::default()
    })
    .await;
    let json = report(
        &f.load(&["--rate", "100", "--duration", "3s", "--json"])
            .await,
    );
    let requests = &json["requests"];
    // Every due request went out although the server answered none for a second.
    assert_eq!(n(&requests["intended"]), 300, "{json}");
    assert_eq!(n(&requests["sent"]), 300, "{json}");
    assert_eq!(n(&requests["not_sent"]), 0, "{json}");
    assert_eq!(n(&requests["ok"]), 300, "{json}");
    // The first request waited out the whole stall, from its due time.
    assert!(n(&json["latency_us"]["max"]) >= 1_000_000, "{json}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_a_full_cap_never_let_out_are_errors_charged_their_wait() {
    // The server holds every request; one slot, freed only by --timeout,
    // sends at most one request per 500 ms until the give-up at 1.5 s.
    let f = Fixture::start(Slow {
        stall: Duration::from_secs(600),
        ..Slow::default()
    })
    .await;
    let out = f
        .load(&[
            "--rate",
            "100",
            "--duration",
            "1s",
            "--concurrency",
            "1",
            "--timeout",
            "500ms",
            "--json",
        ])
        .await;
    let json = report(&out);
    let requests = &json["requests"];
    let (sent, not_sent) = (n(&requests["sent"]), n(&requests["not_sent"]));
    assert_eq!(sent + not_sent, n(&requests["intended"]), "{json}");
    assert!(not_sent >= 90, "{json}");
    assert_eq!(n(&json["errors_by_status"]["NOT_SENT"]), not_sent, "{json}");
    assert_eq!(n(&requests["errors"]), sent + not_sent, "{json}");
    // Each unsent request waited from its due time (before 1 s) to the
    // give-up (a timeout after the schedule), and the percentiles say so.
    assert!(n(&json["latency_us"]["p50"]) >= 500_000, "{json}");
    let human = String::from_utf8_lossy(&out.stderr);
    assert_eq!(human_value(&human, "not sent") as u64, not_sent, "{human}");
    assert!(human.contains("were never sent"), "{human}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_counts_and_durations_bound_the_run() {
    let f = Fixture::start(Slow {
        delay: Duration::from_millis(2),
        ..Slow::default()
    })
    .await;
    let open = report(
        &f.load(&[
            "--rate",
            "200",
            "--requests",
            "25",
            "--duration",
            "60s",
            "--json",
        ])
        .await,
    );
    assert_eq!(n(&open["requests"]["sent"]), 25, "{open}");
    let closed = report(
        &f.load(&[
            "--closed",
            "--concurrency",
            "3",
            "--requests",
            "31",
            "--json",
        ])
        .await,
    );
    assert_eq!(n(&closed["requests"]["sent"]), 31, "{closed}");
    assert_eq!(closed["mode"], "closed");

    let timed = report(
        &f.load(&[
            "--closed",
            "--concurrency",
            "2",
            "--duration",
            "1s",
            "--json",
        ])
        .await,
    );
    let secs = timed["duration_s"].as_f64().expect("duration");
    assert!((1.0..30.0).contains(&secs), "{timed}");
    assert!(n(&timed["requests"]["sent"]) > 0, "{timed}");
    assert!(
        !timed["series"].as_array().expect("series").is_empty(),
        "{timed}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_reported_by_status() {
    let f = Fixture::start(Slow::default()).await;
    let json = report(
        &f.load_with(&["--no-token", "--requests", "5", "--json"], &[])
            .await,
    );
    assert_eq!(n(&json["requests"]["errors"]), 5, "{json}");
    assert_eq!(n(&json["errors_by_status"]["UNAUTHENTICATED"]), 5, "{json}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_reaches_an_h2c_server() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address").to_string();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(AccountsServer::new(Slow::default()))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    let out = meshctl(
        &[
            "--scenario",
            "direct",
            "--plaintext",
            "--no-token",
            "--target",
            &addr,
            "--account",
            "a",
            "--requests",
            "20",
            "--json",
        ],
        &[],
    )
    .await;
    let json = report(&out);
    assert_eq!(n(&json["requests"]["ok"]), 20, "{json}");
    server.abort();
}

#[tokio::test]
async fn bad_flags_are_refused_with_the_flag_named() {
    let missing = Path::new("/nonexistent/ca.pem").to_str().expect("path");
    for (args, flag) in [
        (vec!["--scenario", "read", "--rate", "0"], "--rate"),
        (vec!["--scenario", "read", "--duration", "0s"], "--duration"),
        (vec!["--scenario", "read", "--plaintext"], "--plaintext"),
        (vec!["--scenario", "order-rest", "--no-token"], "--no-token"),
        (
            vec![
                "--scenario",
                "read",
                "--gateway",
                "https://127.0.0.1:9",
                "--ca",
                missing,
            ],
            "--ca",
        ),
    ] {
        let out = meshctl(&args, &[]).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} was accepted");
        assert!(stderr.contains(flag), "{args:?}: {stderr}");
    }
}
