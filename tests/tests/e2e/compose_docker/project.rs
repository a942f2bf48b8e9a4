//! One `docker-compose` project of `docker-compose.yml` with the offline
//! override, under a name of its own, and the Docker commands the test
//! drives it with. Dropping it runs `down -v`, so a failed test leaves no
//! container, network or volume behind.

use std::{
    collections::HashMap,
    future::Future,
    path::{Path, PathBuf},
    process::{Command, Output},
    sync::Mutex,
    time::{Duration, Instant},
};

/// The compose override that swaps in the offline images.
const OVERRIDE: &str = "deploy/compose.offline.yml";

/// The repository root (where `docker-compose.yml` is).
pub(super) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repository root")
        .to_owned()
}

/// Runs `program args`, returning stdout; panics with stderr on failure.
pub(super) fn run(program: &str, args: &[&str]) -> String {
    let output = output(program, args);
    assert!(
        output.status.success(),
        "{program} {}: {}\n{}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Runs `program args` and returns whatever happened; a program that
/// cannot be started is reported as a failed run.
pub(super) fn output(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .current_dir(repo_root())
        .output()
        .unwrap_or_else(|e| Output {
            status: std::os::unix::process::ExitStatusExt::from_raw(127 << 8),
            stdout: Vec::new(),
            stderr: format!("cannot run {program}: {e}").into_bytes(),
        })
}

/// Calls `check` every `pause` until it answers, for at most `limit`.
pub(super) async fn poll<T, F, Fut>(limit: Duration, pause: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(pause).await;
    }
}

/// A running compose project.
pub(super) struct Project {
    /// The project name: containers, network and volumes are prefixed by it.
    pub(super) name: String,
    /// The host port the gateway is published on.
    pub(super) gateway_port: u16,
    /// Container ids by service, asked of compose once per `up` (a restart
    /// keeps the container; `up` after `down` makes new ones).
    ids: Mutex<HashMap<String, String>>,
}

impl Project {
    /// A project named `name` publishing the gateway on `gateway_port`;
    /// nothing runs yet.
    pub(super) fn new(name: String, gateway_port: u16) -> Self {
        Self {
            name,
            gateway_port,
            ids: Mutex::default(),
        }
    }

    fn compose_args<'a>(&'a self, args: &[&'a str]) -> Vec<&'a str> {
        let mut all = vec![
            "--file",
            "docker-compose.yml",
            "--file",
            OVERRIDE,
            "--project-name",
            &self.name,
        ];
        all.extend_from_slice(args);
        all
    }

    /// `docker-compose <args>` on this project.
    pub(super) fn compose(&self, args: &[&str]) -> Output {
        Command::new("docker-compose")
            .args(self.compose_args(args))
            .current_dir(repo_root())
            .env("MESH_GATEWAY_PORT", self.gateway_port.to_string())
            .output()
            .expect("run docker-compose")
    }

    /// `up -d` with the images already built; panics with compose's words.
    pub(super) fn up(&self) {
        self.ids.lock().expect("ids").clear();
        let output = self.compose(&["up", "--detach", "--no-build"]);
        assert!(
            output.status.success(),
            "docker-compose up: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// The container id of `service`.
    pub(super) fn container(&self, service: &str) -> String {
        let mut ids = self.ids.lock().expect("ids");
        ids.entry(service.to_owned())
            .or_insert_with(|| {
                let output = self.compose(&["ps", "--quiet", service]);
                let id = String::from_utf8_lossy(&output.stdout).trim().to_owned();
                assert!(!id.is_empty(), "no container for {service}");
                id
            })
            .clone()
    }

    /// The project's network (compose's `default`).
    pub(super) fn network(&self) -> String {
        format!("{}_default", self.name)
    }

    /// `docker inspect --format <format>` of `service`'s container.
    pub(super) fn inspect(&self, service: &str, format: &str) -> String {
        run(
            "docker",
            &["inspect", "--format", format, &self.container(service)],
        )
        .trim()
        .to_owned()
    }

    /// Waits until every one of `services` passes its health check, for at
    /// most `limit`; panics naming those that did not.
    pub(super) async fn healthy(&self, services: &[&str], limit: Duration) {
        let ok = poll(limit, Duration::from_millis(500), || async {
            services
                .iter()
                .all(|s| self.inspect(s, "{{.State.Health.Status}}") == "healthy")
                .then_some(())
        })
        .await;
        if ok.is_none() {
            let states: Vec<String> = services
                .iter()
                .map(|s| format!("{s}: {}", self.inspect(s, "{{.State.Health.Status}}")))
                .collect();
            panic!(
                "not healthy within {limit:?}: {states:?}\n{}",
                String::from_utf8_lossy(&self.compose(&["logs", "--tail=20"]).stdout)
            );
        }
    }

    /// Copies `path` out of `service`'s container into `to`.
    pub(super) fn copy_out(&self, service: &str, path: &str, to: &Path) {
        let from = format!("{}:{path}", self.container(service));
        run("docker", &["cp", &from, &to.display().to_string()]);
    }

    /// Runs `sh -c script` in `service`'s container and returns stdout.
    pub(super) fn exec(&self, service: &str, script: &str) -> String {
        run(
            "docker",
            &["exec", &self.container(service), "sh", "-c", script],
        )
    }

    /// What `service` printed on stdout so far.
    pub(super) fn stdout(&self, service: &str) -> String {
        let output = output("docker", &["logs", &self.container(service)]);
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// How often Docker restarted `service`'s container.
    pub(super) fn restarts(&self, service: &str) -> u32 {
        self.inspect(service, "{{.RestartCount}}")
            .parse()
            .expect("restart count")
    }

    /// SIGKILLs the main process of `service`'s container from the host,
    /// as a crash or the kernel's OOM killer would, and waits (bounded)
    /// until Docker's restart policy has it running and healthy again.
    /// Returns how long it was down.
    ///
    /// Not `docker kill`: Docker Engine 20.10 records a `docker kill` as a
    /// stop asked by the user, and then no restart policy applies (checked
    /// on this engine with `restart: unless-stopped`, `always` and
    /// `on-failure`).
    pub(super) async fn crash(&self, service: &str) -> Duration {
        let before = self.restarts(service);
        let pid = self.inspect(service, "{{.State.Pid}}");
        let killed = Instant::now();
        run("kill", &["-KILL", &pid]);
        let back = poll(
            Duration::from_secs(90),
            Duration::from_millis(250),
            || async {
                (self.restarts(service) > before
                    && self.inspect(service, "{{.State.Health.Status}}") == "healthy")
                    .then_some(())
            },
        )
        .await;
        assert!(
            back.is_some(),
            "{service} was not restarted and healthy within 90 s of SIGKILL"
        );
        killed.elapsed()
    }

    /// Cuts `service` off the project network for `outage`, then connects it
    /// again under its service name (the alias compose gave it, which a
    /// disconnect drops).
    pub(super) async fn partition(&self, service: &str, outage: Duration) {
        let (network, id) = (self.network(), self.container(service));
        run("docker", &["network", "disconnect", &network, &id]);
        // The fault itself lasts this long; nothing is being waited for.
        tokio::time::sleep(outage).await;
        run(
            "docker",
            &["network", "connect", "--alias", service, &network, &id],
        );
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let output = self.compose(&["down", "--volumes", "--timeout", "5"]);
        if !output.status.success() {
            eprintln!(
                "docker-compose down -v for {} failed: {}",
                self.name,
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}
