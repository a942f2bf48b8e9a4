//! `meshctl up`: the whole secure stack on one machine, without Docker.
//!
//! It creates the development PKI if it is missing (and renews expiring
//! certificates), then starts auth (with its demo seed and the password
//! grant on), accounts, payments, orders and the gateway as child
//! processes on loopback, each told where the others are. Once every one
//! reports ready it records the stack in `<data-dir>/stack.json`, prints
//! what a person needs (URLs, demo credentials, how to get a token), and
//! waits. Ctrl-C or SIGTERM stops the workloads in reverse order; if one of
//! them dies, the others are stopped too and `meshctl up` fails.
//!
//! Everything lives under the data directory: `certs/`, each workload's
//! database (`auth/`, `accounts/`, ...) and `logs/`, so a second run keeps
//! its identities, keys, credentials and data.
//!
//! The workloads run in their own process group, so a Ctrl-C in the
//! terminal reaches only `meshctl`, which stops them edge first. If
//! `meshctl` itself is killed with SIGKILL they keep running; a later
//! `meshctl up` on the same data directory refuses to start and names them.

mod child;
mod signals;

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, bail};
use clap::Args;
use mesh::config::{ACCOUNTS, AUTH, GATEWAY, ORDERS, PAYMENTS};

use nix::fcntl::{Flock, FlockArg};

use self::{
    child::{Addrs, Spec, Workload},
    signals::Signals,
};
use crate::{
    certs::{self, CertsArgs},
    client::{Credentials, ProcessEntry, StackFile},
};

/// Default public ports: auth's OAuth endpoints and the gateway.
const AUTH_HTTPS_PORT: u16 = 7443;
const GATEWAY_HTTPS_PORT: u16 = 8443;
/// How long the workloads may take to become ready (first JWKS fetched).
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Certificates expiring within this are renewed when the stack starts...
const RENEW_AT_START: Duration = Duration::from_secs(3600);
/// ...and, while it runs, looked at this often and renewed this early
/// (workloads pick up rotated files by themselves).
const RENEW_EVERY: Duration = Duration::from_secs(3600);
const RENEW_WHILE_RUNNING: Duration = Duration::from_secs(6 * 3600);

/// Flags of `meshctl up`.
#[derive(Debug, Args)]
pub(crate) struct UpArgs {
    /// Where certificates, databases, logs and the stack record live.
    #[arg(long, env = "MESH_DATA_DIR", default_value = ".mesh")]
    data_dir: PathBuf,

    /// Let the kernel choose every port instead of the defaults
    /// (gateway 8443, auth 7443, gRPC 7000-7004, admin 9000-9004).
    #[arg(long)]
    ephemeral_ports: bool,

    /// Directory holding the auth, accounts, payments, orders and gateway
    /// binaries [default: the directory meshctl is in].
    #[arg(long)]
    bin_dir: Option<PathBuf>,

    /// Switch load testing on: the `loadgen` workload may call every public
    /// RPC of accounts, payments and orders directly, around the gateway's
    /// limits (`meshctl load --scenario direct` needs it). Off by default.
    #[arg(long)]
    load_test: bool,

    /// The public issuer URL: what tokens carry as `iss` and what the
    /// discovery document names as every endpoint, so it must be where
    /// clients reach the gateway [default: the gateway's own URL,
    /// https://127.0.0.1:8443, or its kernel-chosen port].
    #[arg(long, env = "MESH_PUBLIC_URL")]
    public_url: Option<String>,
}

/// The workload `meshctl load` presents on direct calls.
const LOAD_TEST_PEER: &str = "loadgen";

pub(crate) async fn run(args: &UpArgs) -> anyhow::Result<()> {
    let mut signals = Signals::install()?;
    let data = &args.data_dir;
    std::fs::create_dir_all(data).with_context(|| format!("cannot create {}", data.display()))?;
    let _lock = lock(data)?;
    let logs = data.join("logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("cannot create {}", logs.display()))?;
    let certs_dir = data.join("certs");
    let pki = CertsArgs::for_stack(&certs_dir, RENEW_AT_START, false)?;
    certs::run(&pki)?;
    let bin_dir = match &args.bin_dir {
        Some(dir) => dir.clone(),
        None => std::env::current_exe()
            .context("cannot find meshctl's own path")?
            .parent()
            .context("meshctl's directory")?
            .to_owned(),
    };
    let ports = Ports::new(args.ephemeral_ports)?;
    let public_url = match &args.public_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => format!("https://{}", ports.gateway),
    };
    let plan = Plan {
        data,
        bin_dir: &bin_dir,
        certs_dir: &certs_dir,
        logs: &logs,
        ports,
        public_url,
        trust_domain: pki.trust_domain().to_string(),
        load_test: args.load_test,
    };
    if args.load_test {
        println!("load testing is on: {LOAD_TEST_PEER} may call the services directly");
    }

    // A signal is handled from here on, so that even one that arrives
    // while the workloads start stops those already running.
    let mut stack = Vec::new();
    let outcome = tokio::select! {
        outcome = async {
            start_all(&plan, &mut stack).await?;
            wait_ready(&mut stack).await?;
            serve(data, &certs_dir, &mut stack).await
        } => outcome,
        signal = signals.recv() => {
            println!("{signal}: stopping the stack (again to kill it)");
            Ok(())
        }
    };
    // A second signal kills what is still running (dropping a workload
    // kills its process).
    tokio::select! {
        () = stop_all(stack) => {}
        signal = signals.recv() => println!("{signal}: killed the rest of the stack"),
    }
    let _ = std::fs::remove_file(data.join(StackFile::NAME));
    outcome
}

/// A data directory serves one stack at a time: an exclusive lock on
/// `<data-dir>/up.lock`, held until this process ends (however it ends).
fn lock(data: &Path) -> anyhow::Result<Flock<std::fs::File>> {
    let path = data.join("up.lock");
    let file = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|(_, errno)| {
        let running = StackFile::read(data)
            .ok()
            .flatten()
            .map(|stack| {
                let pids: Vec<String> = stack
                    .processes
                    .iter()
                    .map(|p| format!("{} (pid {})", p.name, p.pid))
                    .collect();
                format!(": {}", pids.join(", "))
            })
            .unwrap_or_default();
        anyhow::anyhow!(
            "a stack from {} is already running{running}; stop it first (Ctrl-C in its terminal) [{errno}]",
            data.display()
        )
    })
}

/// The listen addresses of every workload.
struct Ports {
    ephemeral: bool,
    /// The gateway's public address, known before anything starts: the
    /// issuer URL every workload is given names it.
    gateway: SocketAddr,
}

impl Ports {
    /// With `ephemeral`, the gateway's port is picked now (bound and freed
    /// at once); a process taking it meanwhile makes the start fail with
    /// the usual hint, and a second try picks another.
    fn new(ephemeral: bool) -> anyhow::Result<Self> {
        let gateway = if ephemeral {
            std::net::TcpListener::bind(("127.0.0.1", 0))
                .and_then(|listener| listener.local_addr())
                .context("cannot pick a port for the gateway")?
        } else {
            SocketAddr::from(([127, 0, 0, 1], GATEWAY_HTTPS_PORT))
        };
        Ok(Self { ephemeral, gateway })
    }

    fn at(&self, port: u16) -> String {
        let port = if self.ephemeral { 0 } else { port };
        SocketAddr::from(([127, 0, 0, 1], port)).to_string()
    }
}

/// Where everything of one stack lives and listens.
struct Plan<'a> {
    data: &'a Path,
    bin_dir: &'a Path,
    certs_dir: &'a Path,
    logs: &'a Path,
    ports: Ports,
    /// The public issuer URL (`MESH_ISSUER` of every workload).
    public_url: String,
    trust_domain: String,
    /// `--load-test`: the services admit [`LOAD_TEST_PEER`] to their public RPCs.
    load_test: bool,
}

/// The log filter of the workloads: the user's `RUST_LOG`, if any, but
/// always with the "serving" lines that tell `meshctl up` their addresses.
fn log_filter() -> String {
    match std::env::var("RUST_LOG") {
        Ok(filter) if !filter.trim().is_empty() => {
            format!("{filter},mesh::server=info,mesh::https=info")
        }
        _ => "info".to_owned(),
    }
}

/// Starts the workloads in dependency order, pushing each onto `stack` as
/// soon as it runs (so a failure later still stops it).
async fn start_all(plan: &Plan<'_>, stack: &mut Vec<Workload>) -> anyhow::Result<()> {
    let (bin_dir, logs, ports) = (plan.bin_dir, plan.logs, &plan.ports);
    let dir = |name: &str| plan.data.join(name).display().to_string();
    let common = |w: mesh::config::Workload| {
        vec![
            ("MESH_CERTS_DIR", plan.certs_dir.display().to_string()),
            ("MESH_TRUST_DOMAIN", plan.trust_domain.clone()),
            ("MESH_LISTEN", ports.at(w.grpc_port)),
            ("MESH_ADMIN_LISTEN", ports.at(w.admin_port)),
            ("MESH_ISSUER", plan.public_url.clone()),
            ("RUST_LOG", log_filter()),
        ]
    };
    // Only the services have public RPCs a load test calls directly.
    let service = |w: mesh::config::Workload| {
        let mut env = common(w);
        if plan.load_test {
            env.push(("MESH_LOAD_TEST_PEERS", LOAD_TEST_PEER.to_owned()));
        }
        env
    };
    // Each workload joins `stack` as soon as it runs, before it is ready,
    // so whatever happens next it is stopped with the others.
    async fn launch(
        stack: &mut Vec<Workload>,
        name: &'static str,
        bin_dir: &Path,
        env: Vec<(&'static str, String)>,
        logs: &Path,
        https_listen: Option<&'static str>,
    ) -> anyhow::Result<Addrs> {
        let binary = bin_dir.join(name);
        if !binary.exists() {
            bail!(
                "{} is missing: build the workspace (`cargo build --workspace --bins`) or pass --bin-dir",
                binary.display()
            );
        }
        println!("starting {name}");
        stack.push(Workload::spawn(Spec {
            name,
            binary,
            env,
            logs: logs.to_owned(),
            https_listen,
        })?);
        stack.last_mut().expect("just pushed").wait_serving().await
    }

    let mut env = common(AUTH);
    env.push(("AUTH_DATA_DIR", dir("auth")));
    env.push(("AUTH_HTTP_LISTEN", ports.at(AUTH_HTTPS_PORT)));
    env.push(("AUTH_ENABLE_PASSWORD_GRANT", "true".into()));
    let auth = launch(stack, "auth", bin_dir, env, logs, Some("AUTH_HTTP_LISTEN")).await?;
    let auth_grpc = auth.grpc.to_string();
    let auth_https = auth.https.context("auth's HTTPS address")?.to_string();

    let mut env = service(ACCOUNTS);
    env.push(("MESH_AUTH_ADDR", auth_grpc.clone()));
    env.push(("ACCOUNTS_DATA_DIR", dir("accounts")));
    let accounts = launch(stack, "accounts", bin_dir, env, logs, None)
        .await?
        .grpc
        .to_string();

    let mut env = service(PAYMENTS);
    env.push(("MESH_AUTH_ADDR", auth_grpc.clone()));
    env.push(("PAYMENTS_DATA_DIR", dir("payments")));
    env.push(("ACCOUNTS_ADDR", accounts.clone()));
    let payments = launch(stack, "payments", bin_dir, env, logs, None)
        .await?
        .grpc
        .to_string();

    let mut env = service(ORDERS);
    env.push(("MESH_AUTH_ADDR", auth_grpc.clone()));
    env.push(("ORDERS_DATA_DIR", dir("orders")));
    env.push(("ACCOUNTS_ADDR", accounts.clone()));
    env.push(("PAYMENTS_ADDR", payments.clone()));
    let orders = launch(stack, "orders", bin_dir, env, logs, None)
        .await?
        .grpc
        .to_string();

    let mut env = common(GATEWAY);
    env.push(("MESH_AUTH_ADDR", auth_grpc));
    env.push(("GATEWAY_LISTEN", ports.gateway.to_string()));
    env.push(("AUTH_HTTP_ADDR", auth_https));
    env.push(("ACCOUNTS_ADDR", accounts));
    env.push(("PAYMENTS_ADDR", payments));
    env.push(("ORDERS_ADDR", orders));
    launch(stack, "gateway", bin_dir, env, logs, Some("GATEWAY_LISTEN")).await?;
    Ok(())
}

/// Waits until every workload's `/readyz` answers 200: its token checker
/// has the issuer's keys.
async fn wait_ready(stack: &mut [Workload]) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()?;
    let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
    for workload in stack {
        let url = format!("http://{}/readyz", workload.addrs()?.admin);
        loop {
            let ready = http
                .get(&url)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                break;
            }
            if let Ok(Some(status)) = workload.child.try_wait() {
                bail!(
                    "{} exited ({status}) before it was ready; its log:\n{}",
                    workload.name,
                    child::tail(&workload.log, 20)
                );
            }
            if tokio::time::Instant::now() > deadline {
                bail!(
                    "{} did not become ready within {READY_TIMEOUT:?} ({url}); its log:\n{}",
                    workload.name,
                    child::tail(&workload.log, 20)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(())
}

/// Records the stack, tells the user about it and supervises it until a
/// signal (the caller's business): a workload that dies is started again
/// on its addresses after a backoff, as `restart: unless-stopped` would,
/// its restart counted in the stack record and logged. Certificates about
/// to expire are renewed meanwhile.
async fn serve(data: &Path, certs_dir: &Path, stack: &mut [Workload]) -> anyhow::Result<()> {
    write_record(data, stack)?;
    let credentials = Credentials::read(&data.join("auth").join("demo-credentials.json"))?;
    print!("{}", summary(data, &record(stack)?, &credentials));

    let _renewal = AbortOnDrop(tokio::spawn(renew_certificates(certs_dir.to_owned())));
    loop {
        let exits = stack
            .iter_mut()
            .enumerate()
            .map(|(i, w)| Box::pin(async move { (i, w.child.wait().await) }));
        let ((i, status), _, _) = futures_util::future::select_all(exits).await;
        let workload = &mut stack[i];
        let status = status.map_or_else(|e| e.to_string(), |s| s.to_string());
        let wait = restart_backoff(workload.restarts, workload.uptime());
        println!(
            "{} exited ({status}); starting it again in {wait:?} (restart {}). Its log: {}",
            workload.name,
            workload.restarts + 1,
            workload.log.display()
        );
        tokio::time::sleep(wait).await;
        workload.respawn()?;
        if let Err(error) = workload.wait_serving().await {
            // Counted and tried again on the next turn of the loop.
            eprintln!("{error:#}");
            continue;
        }
        println!("{} is serving again", workload.name);
        write_record(data, stack)?;
    }
}

/// How long to wait before restart number `restarts + 1` of a workload
/// that ran for `uptime`: 1 s, doubling while it keeps dying within a
/// minute, up to 30 s; a workload that ran a minute starts over at 1 s.
fn restart_backoff(restarts: u32, uptime: Duration) -> Duration {
    if uptime >= Duration::from_secs(60) {
        return Duration::from_secs(1);
    }
    Duration::from_secs(1u64 << restarts.min(5)).min(Duration::from_secs(30))
}

/// Writes the stack record (`stack.json`) of the workloads as they are now.
fn write_record(data: &Path, stack: &[Workload]) -> anyhow::Result<()> {
    let record = record(stack)?;
    let path = data.join(StackFile::NAME);
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(&record)?)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Aborts a background task when dropped (the stack stops).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Every [`RENEW_EVERY`], re-issues the certificates that expire within
/// [`RENEW_WHILE_RUNNING`]; the workloads reload them without a restart.
async fn renew_certificates(certs_dir: PathBuf) {
    let mut tick = tokio::time::interval(RENEW_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let dir = certs_dir.clone();
        let renewed = tokio::task::spawn_blocking(move || {
            certs::run(&CertsArgs::for_stack(&dir, RENEW_WHILE_RUNNING, true)?)
        })
        .await;
        match renewed {
            Ok(Ok(())) => {}
            Ok(Err(error)) => eprintln!("cannot renew certificates: {error:#}"),
            Err(error) => eprintln!("cannot renew certificates: {error}"),
        }
    }
}

/// Stops the workloads, the edge first and auth last.
async fn stop_all(stack: Vec<Workload>) {
    for workload in stack.into_iter().rev() {
        let name = workload.name;
        match workload.stop().await {
            Ok(status) if status.success() => println!("stopped {name}"),
            Ok(status) => println!("stopped {name} ({status})"),
            Err(e) => eprintln!("could not stop {name}: {e:#}"),
        }
    }
}

fn record(stack: &[Workload]) -> anyhow::Result<StackFile> {
    let mut gateway = None;
    let mut processes = Vec::new();
    for w in stack {
        let addrs = w.addrs()?;
        if w.name == "gateway" {
            gateway = addrs.https;
        }
        processes.push(ProcessEntry {
            name: w.name.to_owned(),
            pid: w.pid,
            grpc: addrs.grpc.to_string(),
            metrics: format!("http://{}/metrics", addrs.admin),
            https: addrs.https.map(|a| format!("https://{a}")),
            restarts: w.restarts,
            started_at: w.started_at,
        });
    }
    let gateway = gateway.context("the gateway's public address")?;
    Ok(StackFile {
        gateway: format!("https://{gateway}"),
        processes,
    })
}

/// How to run this program again from here: the path it was started by
/// (`target/debug/meshctl` after a build), or `meshctl` when it was found
/// on the `PATH`, so every printed hint works when pasted.
fn invoked_as() -> String {
    match std::env::args().next() {
        Some(path) if path.contains('/') => path,
        _ => "meshctl".to_owned(),
    }
}

/// What a person needs to use the running stack.
fn summary(data: &Path, record: &StackFile, credentials: &Credentials) -> String {
    use std::fmt::Write;
    let gw = &record.gateway;
    let ca = data.join("certs").join("ca.pem");
    let data_flag = if data == Path::new(".mesh") {
        String::new()
    } else {
        format!(" --data-dir {}", data.display())
    };
    let me = invoked_as();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nThe secure mesh is up. Data, certificates and logs: {}\n",
        data.display()
    );
    let _ = writeln!(
        out,
        "  gateway    {gw}  (REST/JSON and gRPC; trust {})",
        ca.display()
    );
    let _ = writeln!(out, "  OpenAPI    {gw}/openapi.json");
    let _ = writeln!(out, "  OAuth      {gw}/oauth2/token\n");
    let _ = writeln!(out, "  metrics");
    for p in &record.processes {
        let _ = writeln!(
            out,
            "    {:<9} {}   (gRPC, mTLS: {})",
            p.name, p.metrics, p.grpc
        );
    }
    let _ = writeln!(
        out,
        "\n  demo users (roles: alice, bob USER; maria MANAGER; ada ADMIN)"
    );
    for (user, password) in &credentials.users {
        let _ = writeln!(out, "    {user:<9} password {password}");
    }
    let _ = writeln!(out, "  demo OAuth clients");
    for (client, secret) in &credentials.clients {
        let _ = writeln!(out, "    {client:<9} secret   {secret}");
    }
    let _ = writeln!(out, "\n  get a token   {me} token{data_flag} --user alice");
    let _ = writeln!(
        out,
        "  call the API  curl --cacert {} -H \"Authorization: Bearer $({me} token{data_flag} --user alice)\" {gw}/v1/accounts",
        ca.display()
    );
    let _ = writeln!(out, "  walk through  {me} demo{data_flag}");
    let _ = writeln!(
        out,
        "  load test     {me} load{data_flag} --scenario read --rate 40 --duration 10s\n"
    );
    let _ = writeln!(out, "Ready. Press Ctrl-C to stop.");
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::restart_backoff;

    #[test]
    fn restarts_back_off_and_start_over_after_a_good_run() {
        let quick = Duration::from_secs(2);
        let waits: Vec<u64> = (0..8)
            .map(|n| restart_backoff(n, quick).as_secs())
            .collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(restart_backoff(7, Duration::from_secs(60)).as_secs(), 1);
    }
}
