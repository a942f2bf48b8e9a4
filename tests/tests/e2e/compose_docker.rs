//! `docker-compose.yml` for real: the stack in Docker containers, with
//! faults injected, each container holding only its own secrets.
//!
//! Needs a Docker Engine, `docker-compose` and root; without them the test
//! skips with a message, except under CI (`CI` set), where it fails. The images
//! come from `deploy/offline-images.sh` (run here: the cached base images
//! make it a few seconds; it needs root and debootstrap the first time),
//! with the binaries this test runs next to; `deploy/compose.offline.yml`
//! swaps them in, leaves out what needs a registry and puts `otlp-sink` in
//! the OpenTelemetry Collector's place.
//!
//! In order: every health check passes; each container runs hardened and
//! can read its own key only (never another's, never the CA's); `meshctl
//! demo` passes through the published gateway with the CA and credentials
//! copied out of the containers, and its order's trace reaches the sink
//! from every hop; Prometheus scrapes every workload; then, while orders
//! flow, payments, orders and accounts are SIGKILLed one at a time (the
//! restart policy brings each back) and payments is cut off the network
//! for 5 s; afterwards every order is terminal and the money adds up; a
//! `down` and `up` keeps accounts, orders and credentials. The project is
//! removed with its volumes at the end, whatever happened.

mod project;
mod shop;

use std::{
    collections::{BTreeSet, HashMap},
    net::SocketAddr,
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use project::{Project, output, poll, repo_root, run};
use shop::{Shop, Stream};

use crate::support::{WORKLOADS, binary};

/// Orders the stream must place between two faults, so each one happens
/// while orders flow.
const BETWEEN_FAULTS: usize = 10;

/// Whether this machine can run the test; `false` (with the reason
/// printed) outside CI, a failure under CI.
fn docker_available() -> bool {
    let root = String::from_utf8_lossy(&output("id", &["-u"]).stdout).trim() == "0";
    let missing = if !output("docker", &["info"]).status.success() {
        Some("no Docker Engine answers `docker info`")
    } else if !root {
        // The faults SIGKILL containers' processes from the host, and the
        // base images are made with debootstrap.
        Some("it must run as root")
    } else if !output("docker-compose", &["version"]).status.success() {
        Some("no `docker-compose` (apt-get install docker-compose)")
    } else {
        None
    };
    match missing {
        None => true,
        Some(why) if std::env::var_os("CI").is_some() => panic!("CI needs Docker: {why}"),
        Some(why) => {
            eprintln!("skipped: the container test needs Docker: {why}");
            false
        }
    }
}

/// A port free on this machine now, for the published gateway.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stack_runs_in_containers_through_faults() {
    if !docker_available() {
        return;
    }
    // The images, from the binaries next to this test (debug or release).
    let meshctl = binary("meshctl");
    let profile = meshctl
        .parent()
        .and_then(Path::file_name)
        .and_then(|p| p.to_str())
        .expect("profile directory");
    let started = Instant::now();
    let script = repo_root().join("deploy/offline-images.sh");
    eprint!(
        "{}",
        run(
            &script.display().to_string(),
            &[
                "--profile",
                if profile == "release" {
                    "release"
                } else {
                    "debug"
                }
            ]
        )
    );
    eprintln!("images ready in {:.1?}", started.elapsed());

    let run_id = format!("meshe2e{}", std::process::id());
    let project = Project::new(run_id.clone(), free_port());
    let started = Instant::now();
    project.up();
    project.healthy(WORKLOADS, Duration::from_secs(120)).await;
    eprintln!(
        "all health checks passed {:.1?} after `up`",
        started.elapsed()
    );

    hardened(&project);
    own_secrets_only(&project);

    // The demo, as a user of the stack runs it (README).
    let scratch = tempfile::tempdir().expect("temp dir");
    let (ca, credentials) = (
        scratch.path().join("ca.pem"),
        scratch.path().join("credentials.json"),
    );
    project.copy_out("auth", "/pki/ca.pem", &ca);
    project.copy_out("auth", "/data/demo-credentials.json", &credentials);
    let gateway_url = format!("https://localhost:{}", project.gateway_port);
    let stack = [
        "--gateway",
        &gateway_url,
        "--ca",
        ca.to_str().expect("path"),
        "--credentials",
        credentials.to_str().expect("path"),
    ];
    let meshctl = meshctl.display().to_string();
    let demo = run(&meshctl, &[&["demo", "--json"], &stack[..]].concat());
    let report: serde_json::Value = serde_json::from_str(demo.trim()).expect("demo JSON");
    assert_eq!(report["ok"], true, "meshctl demo: {report}");
    let trace_id = report["trace_id"].as_str().expect("trace id");
    trace_from_every_hop(&project, trace_id).await;
    discovery_names_the_published_gateway(&gateway_url, &ca, &credentials);
    prometheus_scrapes_every_workload(&project).await;

    // Orders while the faults happen.
    let tokens: HashMap<String, String> = ["alice", "bob", "maria"]
        .iter()
        .map(|user| {
            let token = run(&meshctl, &[&["token", "--user", user], &stack[..]].concat());
            (user.to_string(), token.trim().to_owned())
        })
        .collect();
    let gateway = SocketAddr::from(([127, 0, 0, 1], project.gateway_port));
    let shop = Shop::open(gateway, &ca, tokens, &run_id).await;
    let (stop, placed) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicUsize::new(0)),
    );
    let workers = shop.stream(3, &run_id, stop.clone(), placed.clone());
    let mut faults = Vec::new();
    for service in ["payments", "orders", "accounts"] {
        flowing(&placed).await;
        let down = project.crash(service).await;
        faults.push(format!(
            "SIGKILL {service}: restarted and healthy after {down:.1?}"
        ));
    }
    flowing(&placed).await;
    project.partition("payments", Duration::from_secs(5)).await;
    faults.push("payments off the network for 5 s".to_owned());
    flowing(&placed).await;
    stop.store(true, Ordering::SeqCst);
    let mut stream = Stream::default();
    for worker in workers {
        stream.merge(worker.await.expect("order worker"));
    }
    let figures = shop.check(&stream).await;
    eprintln!("faults: {faults:#?}");
    eprintln!(
        "{} orders asked, {} requests (orders and cancellations): {} failed after retries \
         ({:.2}%), {} retries sent, {} orders answered PENDING; {figures}",
        stream.asked,
        stream.requests,
        stream.failed,
        100.0 * stream.failed as f64 / stream.requests.max(1) as f64,
        stream.attempts.saturating_sub(stream.requests),
        stream.pending,
    );
    assert_eq!(stream.failed, 0, "requests failed even after retries");

    // `down` then `up` keeps the named volumes: accounts, orders, credentials.
    let before = shop.snapshot().await;
    let down = project.compose(&["down", "--timeout", "5"]);
    assert!(
        down.status.success(),
        "down: {}",
        String::from_utf8_lossy(&down.stderr)
    );
    project.up();
    project.healthy(WORKLOADS, Duration::from_secs(120)).await;
    assert_eq!(
        shop.snapshot().await,
        before,
        "data kept across down and up"
    );
    let again = scratch.path().join("credentials-after.json");
    project.copy_out("auth", "/data/demo-credentials.json", &again);
    assert_eq!(
        std::fs::read(&again).expect("credentials"),
        std::fs::read(&credentials).expect("credentials"),
        "the demo credentials changed across down and up"
    );
}

/// Waits (bounded) until the stream has placed [`BETWEEN_FAULTS`] more orders.
async fn flowing(placed: &AtomicUsize) {
    let from = placed.load(Ordering::SeqCst);
    let moved = poll(
        Duration::from_secs(120),
        Duration::from_millis(100),
        || async { (placed.load(Ordering::SeqCst) >= from + BETWEEN_FAULTS).then_some(()) },
    )
    .await;
    assert!(moved.is_some(), "orders stopped flowing (at {from})");
}

/// Our containers run as `mesh`, read-only, without capabilities or a way
/// to gain privileges; only the gateway publishes a port.
fn hardened(project: &Project) {
    for service in WORKLOADS.iter().chain(&["otlp-sink"]) {
        let seen = project.inspect(
            service,
            "{{.Config.User}} {{.HostConfig.ReadonlyRootfs}} {{.HostConfig.CapDrop}} {{.HostConfig.SecurityOpt}}",
        );
        assert_eq!(
            seen, "10001:10001 true [ALL] [no-new-privileges:true]",
            "{service} is not hardened"
        );
    }
    for service in WORKLOADS.iter().chain(&["otlp-sink", "prometheus"]) {
        let published = project.inspect(service, "{{json .HostConfig.PortBindings}}");
        let expected = *service == "gateway";
        assert_eq!(
            published != "{}",
            expected,
            "{service} publishes {published}"
        );
    }
}

/// From inside each running container: its own key is readable, no other
/// private key is, the CA key least of all; and only the pki job mounts the
/// volume that holds the CA key.
fn own_secrets_only(project: &Project) {
    let ca_volume = format!("{}_pki", project.name);
    for service in WORKLOADS.iter().chain(&["otlp-sink", "prometheus"]) {
        // Every private key this container's user can read, wherever it is.
        let keys = project.exec(
            service,
            "find / \\( -path /proc -o -path /sys -o -path /dev \\) -prune -o -type f -readable \
             \\( -name '*key*.pem' -o -name '*.key' \\) -print 2>/dev/null; \
             grep -rlsI 'PRIVATE KEY' /pki /data /tmp /home /etc /export 2>/dev/null; true",
        );
        let keys: BTreeSet<&str> = keys.lines().collect();
        let own = format!("/pki/{service}-key.pem");
        let expected: BTreeSet<&str> = if WORKLOADS.contains(service) {
            [own.as_str()].into()
        } else {
            BTreeSet::new()
        };
        assert_eq!(keys, expected, "private keys readable in {service}");
        let mounts = project.inspect(service, "{{range .Mounts}}{{.Name}} {{end}}");
        assert!(
            !mounts.split(' ').any(|m| m == ca_volume),
            "{service} mounts the CA's volume: {mounts}"
        );
    }
}

/// The demo order's spans reach the sink from the gateway, orders,
/// payments and accounts (bounded: spans are exported in batches).
async fn trace_from_every_hop(project: &Project, trace_id: &str) {
    let hops = ["gateway", "orders", "payments", "accounts"];
    let seen = poll(
        Duration::from_secs(30),
        Duration::from_millis(500),
        || async {
            let services: BTreeSet<String> = project
                .stdout("otlp-sink")
                .lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .filter(|span| span["trace_id"] == trace_id)
                .filter_map(|span| span["service"].as_str().map(str::to_owned))
                .collect();
            hops.iter()
                .all(|h| services.contains(*h))
                .then_some(services)
        },
    )
    .await;
    assert!(
        seen.is_some(),
        "the demo order's trace {trace_id} did not reach the OTLP sink from every hop"
    );
}

/// Prometheus, in its container, has every workload's target `up`.
async fn prometheus_scrapes_every_workload(project: &Project) {
    let expected: BTreeSet<String> = [
        "gateway:9000",
        "auth:9001",
        "orders:9002",
        "payments:9003",
        "accounts:9004",
    ]
    .map(str::to_owned)
    .into();
    let up = poll(Duration::from_secs(60), Duration::from_secs(1), || async {
        let targets = output(
            "docker",
            &[
                "exec",
                &project.container("prometheus"),
                "curl",
                "-fsS",
                "http://localhost:9090/api/v1/targets",
            ],
        );
        let targets: serde_json::Value = serde_json::from_slice(&targets.stdout).ok()?;
        let up: BTreeSet<String> = targets["data"]["activeTargets"]
            .as_array()?
            .iter()
            .filter(|t| t["health"] == "up")
            .filter_map(|t| t["labels"]["instance"].as_str().map(str::to_owned))
            .collect();
        (up == expected).then_some(())
    })
    .await;
    assert!(up.is_some(), "Prometheus does not scrape every workload");
}

/// One public issuer: told nothing but the published gateway's URL, a
/// standard OAuth client (Authlib) and JWT library (PyJWT) follow the
/// discovery document fetched from it, which must name that URL as issuer
/// and every endpoint under it (`auth/interop/check.py`).
fn discovery_names_the_published_gateway(gateway: &str, ca: &Path, credentials: &Path) {
    let interop = repo_root().join("auth/interop");
    let venv = crate::support::venv(&interop.join("requirements.txt"));
    let check = std::process::Command::new(venv.path().join("bin/python"))
        .arg(interop.join("check.py"))
        .args(["--issuer", gateway, "--client-id", "loadgen", "--ca"])
        .arg(ca)
        .arg("--credentials")
        .arg(credentials)
        .output()
        .expect("run check.py");
    assert!(
        check.status.success(),
        "discovery through the published gateway: {}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
}
