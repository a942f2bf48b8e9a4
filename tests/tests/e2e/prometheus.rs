//! Debian's `prometheus` (and its `promtool`) for the tests that need a
//! real one: scraping a running stack with the rules of `deploy/`, asked
//! through its HTTP API.
//!
//! Outside programs: when one is missing a test says so and stops, except
//! under CI (`CI` set), where `.ci/run` installs the `prometheus` package.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `program` on `PATH`; `None` (with a message) if absent outside CI.
pub(crate) fn tool(program: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install {program} (apt-get install prometheus)"
        );
        eprintln!("{program} is not installed: skipping (CI runs it)");
    }
    found
}

/// `deploy/` of the repository.
pub(crate) fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

/// The rule files `deploy/prometheus.yml` loads.
pub(crate) const RULE_FILES: [&str; 2] = ["alerts.yml", "slo.yml"];

/// A Prometheus process scraping some targets; killed on drop.
pub(crate) struct Prometheus {
    /// Where its HTTP API listens.
    pub(crate) api: SocketAddr,
    _process: tokio::process::Child,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    /// Starts Prometheus scraping `targets` every second with the shipped
    /// rules, evaluated every second and with every `for:` cut to 1 s: the
    /// thresholds are the shipped ones, only the waiting is shortened.
    /// `None` when `prometheus` is not installed (outside CI).
    pub(crate) async fn start(targets: &[SocketAddr]) -> Option<Self> {
        let binary = tool("prometheus")?;
        let dir = tempfile::tempdir().expect("temp dir");
        for file in RULE_FILES {
            let shipped = std::fs::read_to_string(deploy_dir().join(file)).expect("rule file");
            std::fs::write(dir.path().join(file), short_waits(&shipped)).expect("write rules");
        }
        let targets: Vec<String> = targets.iter().map(|a| format!("'{a}'")).collect();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: [{}]\nscrape_configs:\n  - job_name: mesh\n    static_configs:\n      - targets: [{}]\n",
            RULE_FILES.join(", "),
            targets.join(", ")
        );
        let config_file = dir.path().join("prometheus.yml");
        std::fs::write(&config_file, config).expect("write config");
        // Bound and released just before Prometheus binds it: the API needs
        // a fixed address in its flags.
        let api = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr");
        let process = tokio::process::Command::new(binary)
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={api}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start prometheus");
        Some(Self {
            api,
            _process: process,
            _dir: dir,
        })
    }

    /// The `data` of an API answer at `path`, or `None` if it failed
    /// (not up yet, or an error status).
    pub(crate) async fn get(&self, path: &str) -> Option<serde_json::Value> {
        let connect = tokio::net::TcpStream::connect(self.api);
        let mut tcp = tokio::time::timeout(Duration::from_secs(2), connect)
            .await
            .ok()?
            .ok()?;
        // HTTP/1.0: the answer ends with the connection, never chunked.
        let request = format!("GET {path} HTTP/1.0\r\nHost: {}\r\n\r\n", self.api);
        tcp.write_all(request.as_bytes()).await.ok()?;
        let mut raw = String::new();
        let _ = tcp.read_to_string(&mut raw).await;
        let (_, body) = raw.split_once("\r\n\r\n")?;
        let json: serde_json::Value = serde_json::from_str(body).ok()?;
        (json["status"] == "success").then(|| json["data"].clone())
    }

    /// The samples of an instant query (empty on error or no data).
    pub(crate) async fn query(&self, expr: &str) -> Vec<serde_json::Value> {
        let query = serde_urlencoded::to_string([("query", expr)]).expect("encode");
        self.get(&format!("/api/v1/query?{query}"))
            .await
            .and_then(|data| data["result"].as_array().cloned())
            .unwrap_or_default()
    }

    /// Every alert pending or firing, as `/api/v1/alerts` lists them;
    /// `None` if the API did not answer.
    pub(crate) async fn alerts(&self) -> Option<Vec<serde_json::Value>> {
        let data = self.get("/api/v1/alerts").await?;
        data["alerts"].as_array().cloned()
    }
}

/// `rules` with every `for:` set to 1 s.
fn short_waits(rules: &str) -> String {
    rules
        .lines()
        .map(|line| match line.split_once("for: ") {
            Some((indent, _)) if indent.trim().is_empty() => format!("{indent}for: 1s\n"),
            _ => format!("{line}\n"),
        })
        .collect()
}
