//! One workload run by `meshctl up`: spawned in its own process group (so
//! a Ctrl-C reaches `meshctl`, which stops the stack in order), its log
//! kept in `<data-dir>/logs/<name>.log`, its addresses read from its own
//! "serving" log lines, and stopped with SIGTERM, then SIGKILL.
//!
//! Its standard input is a pipe whose other end only `meshctl` holds, and
//! it is told to exit when that pipe closes (`MESH_EXIT_WITH_PARENT`): if
//! `meshctl` itself is killed, even by SIGKILL, no workload outlives it.
//! A workload that dies is started again from the same [`Spec`], on the
//! addresses it had, so the others still reach it.

use std::{
    fs::File,
    io::Write,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{ExitStatus, Stdio},
    time::Duration,
};

use anyhow::{Context, bail};
use nix::{sys::signal::Signal, unistd::Pid};
use serde_json::Value;
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, ChildStdin, Command},
    sync::oneshot,
    time::Instant,
};

/// How long a workload may take to bind its ports.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a workload may take to drain after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// How to start one workload, kept to start it again.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    pub(crate) name: &'static str,
    pub(crate) binary: PathBuf,
    pub(crate) env: Vec<(&'static str, String)>,
    pub(crate) logs: PathBuf,
    /// The variable naming its HTTPS listen address (auth, the gateway).
    pub(crate) https_listen: Option<&'static str>,
}

/// A started workload and, once it serves, the addresses it reported.
#[derive(Debug)]
pub(crate) struct Workload {
    pub(crate) name: &'static str,
    pub(crate) child: Child,
    pub(crate) pid: u32,
    pub(crate) log: PathBuf,
    /// Times it was started again after dying.
    pub(crate) restarts: u32,
    /// When this process started (Unix seconds), for `meshctl status`.
    pub(crate) started_at: u64,
    /// When this process started, for the restart backoff.
    started: Instant,
    spec: Spec,
    /// The lifeline: dropped (closed) only when `meshctl` goes.
    _lifeline: Option<ChildStdin>,
    /// Sent by the log reader when the addresses are known.
    ready: Option<oneshot::Receiver<Serving>>,
    addrs: Option<Addrs>,
}

/// Where a workload serves.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Addrs {
    pub(crate) grpc: SocketAddr,
    pub(crate) admin: SocketAddr,
    /// The HTTPS port of auth and the gateway.
    pub(crate) https: Option<SocketAddr>,
}

/// The addresses a workload logs once it listens.
#[derive(Debug, Default)]
struct Serving {
    grpc: Option<SocketAddr>,
    admin: Option<SocketAddr>,
    https: Option<SocketAddr>,
}

impl Serving {
    /// Takes what a JSON log line says; true once everything expected is known.
    fn read(&mut self, line: &str, wants_https: bool) -> bool {
        if let Ok(event) = serde_json::from_str::<Value>(line) {
            let addr = |field: &str| event[field].as_str().and_then(|s| s.parse().ok());
            match event["message"].as_str() {
                Some("serving") => {
                    self.grpc = addr("grpc");
                    self.admin = addr("admin");
                }
                Some("serving HTTPS") => self.https = addr("https"),
                _ => {}
            }
        }
        self.grpc.is_some() && self.admin.is_some() && (!wants_https || self.https.is_some())
    }
}

impl Workload {
    /// Spawns the workload of `spec`; [`Workload::wait_serving`] learns its
    /// addresses. Returned at once, so the caller owns the process (and
    /// stops it) even if it is interrupted while waiting.
    pub(crate) fn spawn(spec: Spec) -> anyhow::Result<Self> {
        let (name, binary, env) = (spec.name, &spec.binary, &spec.env);
        let wants_https = spec.https_listen.is_some();
        let log = spec.logs.join(format!("{name}.log"));
        let file = File::options()
            .create(true)
            .append(true)
            .open(&log)
            .with_context(|| format!("cannot open {}", log.display()))?;
        let mut cmd = Command::new(binary);
        cmd.envs(env.iter().map(|(k, v)| (k, v)))
            .env("MESH_LOG_FORMAT", "json")
            .env("OTEL_SERVICE_NAME", name)
            .env(mesh::shutdown::EXIT_WITH_PARENT, "1")
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(file.try_clone().context("log file handle")?)
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let pid = child.id().context("the child has no pid")?;
        let stdout = child.stdout.take().context("piped stdout")?;
        let lifeline = child.stdin.take();

        // Copy the log to the file, and report the addresses once known.
        let (ready_tx, ready_rx) = oneshot::channel();
        tokio::spawn(async move {
            let mut file = file;
            let mut stdout = BufReader::new(stdout);
            let mut bytes = Vec::new();
            let mut serving = Serving::default();
            let mut ready_tx = Some(ready_tx);
            // Lines as bytes: one that is not UTF-8 must not stop the copy.
            while matches!(stdout.read_until(b'\n', &mut bytes).await, Ok(n) if n > 0) {
                let line = String::from_utf8_lossy(&bytes);
                let line = line.trim_end_matches('\n');
                let _ = writeln!(file, "{line}");
                if ready_tx.is_some() && serving.read(line, wants_https) {
                    let _ = ready_tx
                        .take()
                        .map(|tx| tx.send(std::mem::take(&mut serving)));
                }
                bytes.clear();
            }
        });

        let started_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Ok(Self {
            name,
            child,
            pid,
            log,
            restarts: 0,
            started_at,
            started: Instant::now(),
            spec,
            _lifeline: lifeline,
            ready: Some(ready_rx),
            addrs: None,
        })
    }

    /// Starts this workload again (it died), on the addresses it had.
    pub(crate) fn respawn(&mut self) -> anyhow::Result<()> {
        let mut spec = self.spec.clone();
        if let Some(addrs) = self.addrs {
            let mut pin = |var: &'static str, addr: SocketAddr| {
                spec.env.retain(|(k, _)| *k != var);
                spec.env.push((var, addr.to_string()));
            };
            pin("MESH_LISTEN", addrs.grpc);
            pin("MESH_ADMIN_LISTEN", addrs.admin);
            if let (Some(var), Some(https)) = (spec.https_listen, addrs.https) {
                pin(var, https);
            }
        }
        let restarts = self.restarts + 1;
        *self = Self::spawn(spec)?;
        self.restarts = restarts;
        Ok(())
    }

    /// How long this process has run.
    pub(crate) fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// Waits until the workload logs where it serves (or exits, or takes
    /// longer than [`START_TIMEOUT`]).
    pub(crate) async fn wait_serving(&mut self) -> anyhow::Result<Addrs> {
        if let Some(ready) = self.ready.take() {
            let serving = tokio::select! {
                serving = ready => serving.ok(),
                () = tokio::time::sleep(START_TIMEOUT) => None,
            };
            self.addrs = serving.and_then(|s| {
                Some(Addrs {
                    grpc: s.grpc?,
                    admin: s.admin?,
                    https: s.https,
                })
            });
        }
        if let Some(addrs) = self.addrs {
            return Ok(addrs);
        }
        // Its log ended (it is exiting) or it took too long: say which.
        let status = match tokio::time::timeout(Duration::from_secs(1), self.child.wait()).await {
            Ok(Ok(status)) => format!("exited ({status})"),
            _ => format!("did not report its ports within {START_TIMEOUT:?}"),
        };
        bail!("{} {status}; its log:\n{}", self.name, tail(&self.log, 20))
    }

    /// The addresses, once [`Workload::wait_serving`] succeeded.
    pub(crate) fn addrs(&self) -> anyhow::Result<Addrs> {
        self.addrs
            .with_context(|| format!("{} has not reported its addresses", self.name))
    }

    /// Sends SIGTERM and waits for the exit; SIGKILL after [`STOP_TIMEOUT`].
    pub(crate) async fn stop(mut self) -> anyhow::Result<ExitStatus> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Ok(status);
        }
        let pid = Pid::from_raw(i32::try_from(self.pid).context("pid")?);
        let _ = nix::sys::signal::kill(pid, Signal::SIGTERM);
        match tokio::time::timeout(STOP_TIMEOUT, self.child.wait()).await {
            Ok(status) => Ok(status?),
            Err(_) => {
                eprintln!(
                    "{} did not stop within {STOP_TIMEOUT:?} of SIGTERM; killing it",
                    self.name
                );
                self.child.kill().await?;
                Ok(self.child.wait().await?)
            }
        }
    }
}

/// The last `n` lines of the file at `path`, for an error message, without
/// backtrace frames (they bury the error itself).
pub(crate) fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text
        .lines()
        .filter(|line| {
            let line = line.trim_start();
            let frame = line.split_once(':').is_some_and(|(number, _)| {
                !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit())
            });
            !(frame || line.starts_with("at ") || line == "Stack backtrace:")
        })
        .collect();
    let mut tail = lines[lines.len().saturating_sub(n)..].join("\n");
    if text.contains("Address already in use") {
        tail.push_str(
            "\n(a port is taken: is another stack running? `meshctl up --ephemeral-ports` lets the kernel choose)",
        );
    }
    tail
}

#[cfg(test)]
mod tests {
    use super::Serving;

    #[test]
    fn addresses_come_from_the_serving_lines() {
        let mut serving = Serving::default();
        assert!(!serving.read(r#"{"message":"starting"}"#, true));
        assert!(!serving.read("not json", true));
        assert!(!serving.read(
            r#"{"message":"serving","grpc":"127.0.0.1:7001","admin":"127.0.0.1:9001"}"#,
            true
        ));
        assert!(serving.read(
            r#"{"message":"serving HTTPS","https":"127.0.0.1:7443"}"#,
            true
        ));
        assert_eq!(serving.https.map(|a| a.port()), Some(7443));
    }

    #[test]
    fn the_tail_of_a_log_leaves_out_backtrace_frames() {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("auth.log");
        std::fs::write(
            &log,
            "Error: --listen 127.0.0.1:7001: cannot listen: Address already in use\n\nStack backtrace:\n   0: main\n             at ./src/main.rs:4:5\n  12: _start\n",
        )
        .expect("write");
        let tail = super::tail(&log, 20);
        assert!(tail.starts_with("Error: --listen 127.0.0.1:7001"), "{tail}");
        assert!(
            !tail.contains("_start") && !tail.contains("main.rs"),
            "{tail}"
        );
        assert!(tail.contains("--ephemeral-ports"), "{tail}");
    }

    #[test]
    fn a_workload_without_https_is_ready_after_serving() {
        let mut serving = Serving::default();
        assert!(serving.read(
            r#"{"message":"serving","grpc":"127.0.0.1:1","admin":"127.0.0.1:2"}"#,
            false
        ));
    }
}
