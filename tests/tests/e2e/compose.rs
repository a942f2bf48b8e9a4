//! `docker-compose.yml` checked without a Docker engine.
//!
//! 1. The file validates: `docker-compose config` (Debian's docker-compose,
//!    which `.ci/run` installs) accepts it.
//! 2. Our containers run as compose describes them: the test reads the
//!    normalized file from `docker-compose config` and, for every service
//!    built from this repository, runs the same binary with the same
//!    arguments and exactly the environment the file gives it, in
//!    `depends_on` order. What a container would see differently is mapped
//!    onto this machine, and nothing else:
//!    - every compose host name (`auth`, `otel-collector`, ...) and `0.0.0.0`
//!      become `127.0.0.1` (the services' ports are all distinct, so they
//!      can share loopback; the certificates carry IP SAN 127.0.0.1);
//!    - each named volume becomes a directory of the test, and paths under
//!      a mount point (`/pki`, `/data`) point into it;
//!    - a `service_healthy` dependency waits for the file's own health-check
//!      command, run here; published ports are reached on their target.
//!
//!    Then `meshctl demo` runs through the gateway's published port, and an
//!    OTLP receiver standing in for the collector must see the demo order's
//!    trace from every hop. A wrong port, address, certificate path,
//!    volume or variable in the file makes one of these steps fail.
//!
//! It binds the file's fixed ports (7000-7004, 7443, 8443, 9000-9004, 4317)
//! on 127.0.0.1, so it fails if a stack started by `meshctl up` with the
//! default ports is running on this machine.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use serde::Deserialize;
use tokio::process::Command;

use crate::{
    support::{Process, binary, run_to_exit},
    traces::Collector,
};

/// The part of a normalized compose file this test uses.
#[derive(Debug, Deserialize)]
struct ComposeFile {
    services: BTreeMap<String, Service>,
}

#[derive(Debug, Deserialize)]
struct Service {
    build: Option<serde_norway::Value>,
    #[serde(default)]
    command: Vec<String>,
    #[serde(default)]
    environment: BTreeMap<String, String>,
    #[serde(default)]
    volumes: Vec<String>,
    #[serde(default)]
    ports: Vec<Port>,
    #[serde(default)]
    depends_on: BTreeMap<String, Dependency>,
    healthcheck: Option<Healthcheck>,
}

#[derive(Debug, Deserialize)]
struct Port {
    published: u16,
    target: u16,
}

#[derive(Debug, Deserialize)]
struct Dependency {
    condition: String,
}

#[derive(Debug, Deserialize)]
struct Healthcheck {
    test: Vec<String>,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repository root")
        .to_owned()
}

/// `docker-compose <args>` on the repository's compose file.
async fn docker_compose(args: &[&str]) -> (bool, String) {
    let mut cmd = Command::new("docker-compose");
    cmd.arg("--file")
        .arg(repo_root().join("docker-compose.yml"))
        .args(args)
        // `config` interpolates ${VARS}; the file must not need any.
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let output = cmd.output().await.unwrap_or_else(|e| {
        panic!("cannot run docker-compose ({e}); install it: apt-get install docker-compose")
    });
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        text.push_str(&String::from_utf8_lossy(&output.stderr));
    }
    (output.status.success(), text)
}

#[tokio::test]
async fn the_compose_file_validates() {
    let (ok, output) = docker_compose(&["config", "--quiet"]).await;
    assert!(ok, "docker-compose config refused the file:\n{output}");
}

/// How a container's world maps onto this machine.
struct Mapping {
    hosts: BTreeSet<String>,
    volumes: PathBuf,
}

impl Mapping {
    /// The host directory standing in for named volume `name`.
    fn volume(&self, name: &str) -> PathBuf {
        self.volumes.join(name)
    }

    /// Mount points of `service`: container path → host directory.
    fn mounts(&self, service: &Service) -> Vec<(String, PathBuf)> {
        service
            .volumes
            .iter()
            .filter_map(|spec| {
                let mut parts = spec.split(':');
                let (source, target) = (parts.next()?, parts.next()?);
                // Only named volumes hold our state; bind mounts are configs
                // of the third-party containers.
                (!source.starts_with('/')).then(|| (target.to_owned(), self.volume(source)))
            })
            .collect()
    }

    /// `value` as seen from this machine.
    fn value(&self, value: &str, mounts: &[(String, PathBuf)]) -> String {
        for (target, host) in mounts {
            if value == target {
                return host.display().to_string();
            }
            if let Some(rest) = value.strip_prefix(&format!("{target}/")) {
                return host.join(rest).display().to_string();
            }
        }
        let mut value = value.replace("0.0.0.0:", "127.0.0.1:");
        for host in &self.hosts {
            for prefix in ["", "http://", "https://"] {
                let from = format!("{prefix}{host}:");
                if value.starts_with(&from) {
                    value = format!("{prefix}127.0.0.1:{}", &value[from.len()..]);
                }
            }
        }
        value
    }
}

/// The services in an order that honours every `depends_on`.
fn start_order(file: &ComposeFile, ours: &BTreeSet<String>) -> Vec<String> {
    let mut order: Vec<String> = Vec::new();
    while order.len() < ours.len() {
        let next = ours
            .iter()
            .find(|name| {
                !order.contains(name)
                    && file.services[*name]
                        .depends_on
                        .keys()
                        .filter(|dep| ours.contains(*dep))
                        .all(|dep| order.contains(dep))
            })
            .expect("depends_on has no cycle");
        order.push(next.clone());
    }
    order
}

/// Runs a compose health check on this machine until it passes, for at
/// most a minute (what the file allows: 30 retries, 2 s apart).
async fn healthy(name: &str, check: &Healthcheck) {
    let (program, args) = match check.test.split_first() {
        Some((kind, rest)) if kind == "CMD" && !rest.is_empty() => {
            (rest[0].clone(), rest[1..].to_vec())
        }
        Some((kind, rest)) if kind == "CMD-SHELL" => {
            ("sh".to_owned(), vec!["-c".to_owned(), rest.join(" ")])
        }
        _ => panic!("{name}: unsupported healthcheck {:?}", check.test),
    };
    let passed = mesh::testing::eventually(Duration::from_secs(60), || async {
        let status = Command::new(&program)
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await
            .unwrap_or_else(|e| panic!("{name}: run health check {program}: {e}"));
        status.success().then_some(())
    })
    .await;
    assert!(
        passed.is_some(),
        "{name}: health check {:?} never passed",
        check.test
    );
}

#[tokio::test]
async fn the_stack_runs_as_docker_compose_describes_it() {
    let (ok, yaml) = docker_compose(&["config"]).await;
    assert!(ok, "docker-compose config:\n{yaml}");
    let file: ComposeFile = serde_norway::from_str(&yaml).expect("normalized compose file");

    // Ours: every service built from this repository.
    let ours: BTreeSet<String> = file
        .services
        .iter()
        .filter(|(_, s)| s.build.is_some())
        .map(|(name, _)| name.clone())
        .collect();
    assert!(
        ours.len() >= 6,
        "pki and the five workloads are built here: {ours:?}"
    );
    let scratch = tempfile::tempdir().expect("temp dir");
    let mapping = Mapping {
        hosts: file.services.keys().cloned().collect(),
        volumes: scratch.path().to_owned(),
    };

    // The collector stands in for the otel-collector service.
    let (collector, _) = Collector::start("127.0.0.1:4317").await;

    let mut running: BTreeMap<String, Process> = BTreeMap::new();
    for name in start_order(&file, &ours) {
        let service = &file.services[&name];
        for (dep, how) in &service.depends_on {
            assert!(
                how.condition != "service_healthy" || file.services[dep].healthcheck.is_some(),
                "{name} waits for {dep} to be healthy, but {dep} has no health check"
            );
        }
        let mounts = mapping.mounts(service);
        for (_, host) in &mounts {
            std::fs::create_dir_all(host).expect("volume directory");
        }
        let (program, args) = service
            .command
            .split_first()
            .unwrap_or_else(|| panic!("{name}: no command"));
        let mut cmd = Command::new(binary(program));
        cmd.args(args.iter().map(|a| mapping.value(a, &mounts)))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(
                service
                    .environment
                    .iter()
                    .map(|(k, v)| (k.clone(), mapping.value(v, &mounts))),
            )
            .stdin(Stdio::null())
            .kill_on_drop(true);
        if service.healthcheck.is_none() {
            // A one-shot service (the PKI): it must succeed.
            let (status, output) = run_to_exit(cmd).await;
            assert!(status.success(), "{name} failed:\n{output}");
            continue;
        }
        let https = service.environment.contains_key("AUTH_HTTP_LISTEN")
            || service.environment.contains_key("GATEWAY_LISTEN");
        let process = if https {
            Process::start_https(cmd).await
        } else {
            Process::start(cmd).await
        };
        healthy(&name, service.healthcheck.as_ref().expect("health check")).await;
        running.insert(name, process);
    }
    assert_eq!(
        running.len(),
        5,
        "the five workloads run: {:?}",
        running.keys()
    );

    // The demo through the gateway's published port, as a user of the
    // compose stack would run it (CA and credentials from the volumes).
    let gateway = &file.services["gateway"];
    let published = gateway
        .ports
        .iter()
        .find(|p| p.published == 8443)
        .expect("the gateway is published on 8443");
    let mut demo = Command::new(binary("meshctl"));
    demo.arg("demo")
        .arg("--json")
        .arg("--gateway")
        .arg(format!("https://127.0.0.1:{}", published.target))
        .arg("--ca")
        .arg(mapping.volume("pki").join("ca.pem"))
        .arg("--credentials")
        .arg(mapping.volume("auth-data").join("demo-credentials.json"));
    let (status, output) = run_to_exit(demo).await;
    assert!(
        status.success(),
        "meshctl demo against the compose stack:\n{output}"
    );
    let report: serde_json::Value = serde_json::from_str(output.trim()).expect("demo JSON report");
    assert_eq!(report["ok"], true, "{report}");

    // The trace of the demo's order reached the "collector" from every hop.
    let trace_id = report["trace_id"].as_str().expect("trace id");
    let spans = collector
        .trace(trace_id, &["gateway", "orders", "payments", "accounts"])
        .await;
    assert!(
        spans.is_some(),
        "the demo order's trace did not reach OTLP from every hop"
    );
}
