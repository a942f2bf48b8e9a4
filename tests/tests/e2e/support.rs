//! Starting mesh binaries as child processes and waiting for them to be
//! ready by reading their own "serving" log line, never by sleeping.

use std::{
    net::SocketAddr,
    path::PathBuf,
    process::{ExitStatus, Stdio},
    time::Duration,
};

use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

/// The mesh binaries with a mutual-TLS gRPC port.
pub(crate) const WORKLOADS: &[&str] = &["auth", "gateway", "orders", "payments", "accounts"];

/// Path of a workspace binary (built next to the test executable's directory).
pub(crate) fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target directory");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace --bins` before the end-to-end tests",
        path.display()
    );
    path
}

/// A command for binary `name` with a clean environment of its own: temp
/// data directories and HTTP ports on 127.0.0.1:0 for the binaries that have them.
pub(crate) fn command(name: &str, scratch: &std::path::Path) -> Command {
    let mut cmd = Command::new(binary(name));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RUST_LOG", "info")
        .env("MESH_LOG_FORMAT", "json")
        .env("AUTH_DATA_DIR", scratch.join(format!("{name}-data")))
        .env("ACCOUNTS_DATA_DIR", scratch.join("accounts-data"))
        .env("PAYMENTS_DATA_DIR", scratch.join("payments-data"))
        .env("ORDERS_DATA_DIR", scratch.join("orders-data"))
        .env("AUTH_HTTP_LISTEN", "127.0.0.1:0")
        .env("GATEWAY_LISTEN", "127.0.0.1:0")
        .env("MESH_LISTEN", "127.0.0.1:0")
        .env("MESH_ADMIN_LISTEN", "127.0.0.1:0")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    cmd
}

/// A running mesh process, killed on drop.
#[derive(Debug)]
pub(crate) struct Process {
    pub(crate) child: Child,
    pub(crate) grpc_addr: SocketAddr,
    pub(crate) admin_addr: SocketAddr,
    /// The HTTPS port, for processes that have one (auth, gateway).
    pub(crate) https_addr: Option<SocketAddr>,
}

impl Process {
    /// Spawns `cmd` and reads its log until the "serving" line.
    pub(crate) async fn start(cmd: Command) -> Self {
        Self::start_waiting(cmd, false).await
    }

    /// Like [`Process::start`], for a process that also serves HTTPS:
    /// waits for its "serving HTTPS" line too.
    pub(crate) async fn start_https(cmd: Command) -> Self {
        Self::start_waiting(cmd, true).await
    }

    async fn start_waiting(mut cmd: Command, https: bool) -> Self {
        cmd.stdout(Stdio::piped()).stderr(Stdio::inherit());
        let mut child = cmd.spawn().expect("spawn binary");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let (serving, https_line) = tokio::time::timeout(Duration::from_secs(60), async {
            let (mut serving, mut https_line) = (None, None);
            while let Some(line) = lines.next_line().await.expect("read log") {
                let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else {
                    continue;
                };
                match event["message"].as_str() {
                    Some("serving") => serving = Some(event),
                    Some("serving HTTPS") => https_line = Some(event),
                    _ => {}
                }
                if serving.is_some() && (!https || https_line.is_some()) {
                    return Some((serving?, https_line));
                }
            }
            None
        })
        .await
        .expect("the process logged `serving` within 60 s")
        .expect("the process exited before serving");
        // Keep draining the log so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let addr = |field: &str| -> SocketAddr {
            serving[field]
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("`serving` line without {field}: {serving}"))
        };
        let https_addr =
            https_line.and_then(|line| line["https"].as_str().and_then(|s| s.parse().ok()));
        Self {
            grpc_addr: addr("grpc"),
            admin_addr: addr("admin"),
            https_addr,
            child,
        }
    }

    /// Sends SIGTERM and waits for the exit.
    pub(crate) async fn terminate(mut self) -> ExitStatus {
        let pid = self.child.id().expect("running child has a pid");
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("exited within 30 s of SIGTERM")
            .expect("wait for child")
    }
}

/// Runs `cmd` to completion (it is expected to fail fast) and returns its
/// exit status and everything it printed.
pub(crate) async fn run_to_exit(mut cmd: Command) -> (ExitStatus, String) {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let output = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .expect("exited within 60 s")
        .expect("run binary");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status, text)
}

/// A Python virtual environment of its own with the pinned packages of
/// `requirements`, for clients we did not write; removed on drop. The
/// interpreter is `<dir>/bin/python`.
pub(crate) fn venv(requirements: &std::path::Path) -> tempfile::TempDir {
    let venv = tempfile::tempdir().expect("temp dir");
    let ok = std::process::Command::new("python3")
        .arg("-m")
        .arg("venv")
        .arg(venv.path())
        .status()
        .expect("python3 -m venv");
    assert!(ok.success(), "python3 -m venv failed");
    let pip = std::process::Command::new(venv.path().join("bin/python"))
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(requirements)
        .output()
        .expect("pip");
    assert!(
        pip.status.success(),
        "pip install -r {}: {}",
        requirements.display(),
        String::from_utf8_lossy(&pip.stderr)
    );
    venv
}
