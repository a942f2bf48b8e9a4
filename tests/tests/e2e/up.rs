//! `meshctl up` as a user runs it: a separate process that starts the whole
//! stack, then `meshctl demo` against it, then Ctrl-C. Every child process
//! must be gone afterwards, and a second run must keep the certificates,
//! the demo credentials and the data of the first.

use std::{path::Path, process::Stdio, time::Duration};

use serde_json::Value;
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

use crate::support::{binary, run_to_exit};

/// A running `meshctl up`, killed on drop if the test fails half way.
struct Up {
    child: Child,
    /// Everything it printed up to "Ready."
    printed: String,
}

impl Up {
    /// Starts `meshctl up` on `data` and reads its output until it says ready.
    async fn start(data: &Path) -> Self {
        Self::start_with(data, &[]).await
    }

    /// [`Up::start`] with `extra` flags.
    async fn start_with(data: &Path, extra: &[&str]) -> Self {
        let bin_dir = binary("meshctl").parent().expect("bin dir").to_owned();
        let mut child = Command::new(binary("meshctl"))
            .args(["up", "--ephemeral-ports", "--data-dir"])
            .arg(data)
            .args(extra)
            .arg("--bin-dir")
            .arg(&bin_dir)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn meshctl up");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let printed = tokio::time::timeout(Duration::from_secs(120), async {
            let mut printed = String::new();
            while let Some(line) = lines.next_line().await.expect("read output") {
                printed.push_str(&line);
                printed.push('\n');
                if line.starts_with("Ready.") {
                    return printed;
                }
            }
            panic!("meshctl up ended before it was ready:\n{printed}");
        })
        .await
        .expect("meshctl up was ready within 120 s");
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self { child, printed }
    }

    /// Ctrl-C, and the exit status.
    async fn interrupt(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().expect("pid").to_string();
        let kill = std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .expect("run kill");
        assert!(kill.success());
        tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .expect("meshctl up stopped within 60 s of Ctrl-C")
            .expect("wait")
    }
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("read")).expect("JSON")
}

async fn meshctl(args: &[&str], data: &Path) -> (bool, String) {
    let mut cmd = Command::new(binary("meshctl"));
    cmd.args(args).arg("--data-dir").arg(data);
    let (status, output) = run_to_exit(cmd).await;
    (status.success(), output)
}

/// The JSON report in the output of a successful `meshctl load --json`.
fn load_report(what: &str, (ok, output): (bool, String)) -> Value {
    assert!(ok, "meshctl load {what}:\n{output}");
    let json_start = output.find('{').expect("JSON report");
    serde_json::Deserializer::from_str(&output[json_start..])
        .into_iter::<Value>()
        .next()
        .expect("a JSON value")
        .expect("JSON report")
}

/// Five GetAccount calls straight to the stack's accounts as `loadgen`
/// (`meshctl load --scenario direct`): the run's JSON report.
async fn direct_load(data: &Path) -> Value {
    let stack = read_json(&data.join("stack.json"));
    let accounts = stack["processes"]
        .as_array()
        .and_then(|all| all.iter().find(|p| p["name"] == "accounts"))
        .and_then(|p| p["grpc"].as_str())
        .expect("accounts' gRPC address")
        .to_owned();
    let args = [
        "load",
        "--scenario",
        "direct",
        "--target",
        &accounts,
        "--requests",
        "5",
        "--json",
    ];
    load_report("direct", meshctl(&args, data).await)
}

#[tokio::test]
async fn meshctl_up_runs_the_stack_the_demo_passes_and_ctrl_c_stops_everything() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let data = scratch.path().join("mesh");
    let up = Up::start(&data).await;

    // What a person needs is printed: the gateway URL, a metrics URL per
    // process, the demo credentials and how to get a token.
    let stack = read_json(&data.join("stack.json"));
    let gateway = stack["gateway"].as_str().expect("gateway URL").to_owned();
    assert!(gateway.starts_with("https://127.0.0.1:"), "{gateway}");
    assert!(up.printed.contains(&gateway), "{}", up.printed);
    let processes = stack["processes"].as_array().expect("processes").clone();
    let names: Vec<&str> = processes
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(names, ["auth", "accounts", "payments", "orders", "gateway"]);
    for process in &processes {
        let metrics = process["metrics"].as_str().expect("metrics URL");
        assert!(up.printed.contains(metrics), "{metrics} not printed");
        let addr = metrics
            .trim_start_matches("http://")
            .trim_end_matches("/metrics")
            .parse()
            .expect("metrics address");
        let (status, body) = mesh::testing::http_get(addr, "/metrics").await;
        assert_eq!(status, 200, "{metrics}");
        assert!(
            body.contains("mesh_cert_expiry_timestamp_seconds"),
            "{metrics}"
        );
    }
    let credentials = read_json(&data.join("auth").join("demo-credentials.json"));
    let alice_password = credentials["users"]["alice"].as_str().expect("alice");
    assert!(up.printed.contains(alice_password), "credentials printed");
    // The hints name the program as it was started, so they work when pasted.
    let hint = format!("{} token", binary("meshctl").display());
    assert!(up.printed.contains(&hint), "how to get a token");

    // The scripted walk through the secure flows, every step as expected.
    let (ok, output) = meshctl(&["demo", "--json"], &data).await;
    assert!(ok, "meshctl demo failed:\n{output}");
    let report: Value = serde_json::from_str(&output).expect("demo JSON");
    assert_eq!(report["ok"], true, "{report}");
    let steps: Vec<&str> = report["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| {
            assert_eq!(s["ok"], true, "step {s}");
            s["step"].as_str().expect("step name")
        })
        .collect();
    assert_eq!(
        steps,
        [
            "tokens",
            "open account",
            "USER deposit",
            "deposit",
            "order",
            "payment",
            "balance",
            "cross-user read",
            "forged token"
        ]
    );
    let status = |name: &str| {
        report["steps"]
            .as_array()
            .and_then(|steps| steps.iter().find(|s| s["step"] == name))
            .map(|s| s["status"].clone())
    };
    assert_eq!(status("USER deposit"), Some(403.into()));
    assert_eq!(status("cross-user read"), Some(404.into()));
    assert_eq!(status("forged token"), Some(401.into()));
    let trace_id = report["trace_id"].as_str().expect("trace id");
    assert_eq!(trace_id.len(), 32);
    let account = report["account_id"].as_str().expect("account").to_owned();

    // `meshctl token` prints just a token.
    let (ok, token) = meshctl(&["token", "--user", "alice"], &data).await;
    assert!(ok, "{token}");
    assert_eq!(token.trim().split('.').count(), 3, "{token}");
    let (ok, refused) = meshctl(&["token", "--user", "mallory"], &data).await;
    assert!(
        !ok && refused.contains("no demo user 'mallory'"),
        "{refused}"
    );

    // Every load scenario through the gateway works against the stack.
    for (scenario, requests) in [
        ("read", "20"),
        ("order-grpc", "10"),
        ("order-rest", "10"),
        ("abuse", "30"),
    ] {
        let args = [
            "load",
            "--scenario",
            scenario,
            "--rate",
            "30",
            "--requests",
            requests,
            "--json",
        ];
        let report = load_report(scenario, meshctl(&args, &data).await);
        let counts = &report["requests"];
        assert_eq!(
            counts["completed"].as_u64(),
            requests.parse().ok(),
            "{scenario}: {report}"
        );
        assert_eq!(counts["errors"], 0, "{scenario}: {report}");
        if scenario == "abuse" {
            assert!(
                counts["expected"].as_u64() > Some(0),
                "{scenario}: {report}"
            );
        } else {
            assert_eq!(counts["ok"], counts["completed"], "{scenario}: {report}");
        }
    }

    // Load testing is off by default: loadgen reaches no service directly
    // (case 52).
    let report = direct_load(&data).await;
    assert_eq!(
        report["errors_by_status"]["PERMISSION_DENIED"], 5,
        "{report}"
    );

    // Ctrl-C stops every child, then meshctl itself, cleanly.
    let status = up.interrupt().await;
    assert!(status.success(), "meshctl up exited with {status}");
    for process in &processes {
        let pid = process["pid"].as_u64().expect("pid");
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "{} (pid {pid}) still runs",
            process["name"]
        );
    }
    assert!(
        !data.join("stack.json").exists(),
        "the stack record is removed"
    );

    // A second run keeps certificates, credentials and data; this one with
    // load testing on, so loadgen may call the services directly.
    let ca_before = std::fs::read(data.join("certs").join("ca.pem")).expect("CA");
    let up = Up::start_with(&data, &["--load-test"]).await;
    assert!(up.printed.contains("kept auth"), "{}", up.printed);
    assert_eq!(
        std::fs::read(data.join("certs").join("ca.pem")).expect("CA"),
        ca_before
    );
    assert_eq!(
        read_json(&data.join("auth").join("demo-credentials.json")),
        credentials
    );
    let (ok, token) = meshctl(&["token", "--user", "alice"], &data).await;
    assert!(ok, "{token}");
    let gateway = read_json(&data.join("stack.json"))["gateway"]
        .as_str()
        .expect("gateway")
        .to_owned();
    let addr = gateway
        .trim_start_matches("https://")
        .parse()
        .expect("addr");
    let reply = mesh::testing::https_request(
        addr,
        &data.join("certs").join("ca.pem"),
        &format!(
            "GET /v1/accounts/{account} HTTP/1.1\r\nAuthorization: Bearer {}\r\n",
            token.trim()
        ),
        b"",
    )
    .await;
    assert_eq!(reply.status, 200, "the first run's account: {}", reply.body);
    assert_eq!(reply.json()["balanceMinor"], "7500");
    let report = direct_load(&data).await;
    assert_eq!(report["requests"]["ok"], 5, "{report}");
    assert!(up.interrupt().await.success());
}

#[tokio::test]
async fn a_second_stack_on_the_same_data_dir_is_refused() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let data = scratch.path().join("mesh");
    let up = Up::start(&data).await;
    let (ok, output) = meshctl(&["up", "--ephemeral-ports"], &data).await;
    assert!(!ok, "a second stack started:\n{output}");
    assert!(output.contains("is already running"), "{output}");
    // The first stack is untouched by the refusal.
    assert!(data.join("stack.json").exists());
    assert!(up.interrupt().await.success());
}

/// Processes whose environment names `data` (every workload `meshctl up`
/// starts gets its data directories from there).
fn processes_using(data: &Path) -> Vec<String> {
    let needle = data.display().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| {
            let environ = std::fs::read(e.path().join("environ")).ok()?;
            String::from_utf8_lossy(&environ)
                .contains(&needle)
                .then(|| e.file_name().to_string_lossy().into_owned())
        })
        .collect()
}

#[tokio::test]
async fn ctrl_c_while_the_stack_starts_leaves_no_workload_behind() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let data = scratch.path().join("mesh");
    let mut child = Command::new(binary("meshctl"))
        .args(["up", "--ephemeral-ports", "--data-dir"])
        .arg(&data)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn meshctl up");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    // auth is serving and accounts about to start.
    let started = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.expect("read") {
            if line == "starting accounts" {
                return true;
            }
        }
        false
    })
    .await
    .expect("accounts started within 60 s");
    assert!(started, "meshctl up ended before starting accounts");
    assert!(!processes_using(&data).is_empty(), "auth runs");
    let pid = child.id().expect("pid").to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .expect("kill")
            .success()
    );
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("meshctl up stopped within 60 s of Ctrl-C")
        .expect("wait");
    assert!(status.success(), "meshctl up exited with {status}");
    assert_eq!(
        processes_using(&data),
        Vec::<String>::new(),
        "workloads left running"
    );
}

/// `meshctl up` supervises: a workload killed with SIGKILL is started again
/// on its addresses (the stack works on, `meshctl status` counts the
/// restart), and `meshctl up` itself killed with SIGKILL leaves no workload
/// behind (their lifeline pipe closes).
#[tokio::test]
async fn a_killed_workload_is_restarted_and_a_killed_meshctl_leaves_nothing() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let data = scratch.path().join("mesh");
    let mut up = Up::start(&data).await;
    let pid_of = |name: &str| {
        read_json(&data.join("stack.json"))["processes"]
            .as_array()
            .expect("processes")
            .iter()
            .find(|p| p["name"] == name)
            .map(|p| (p["pid"].as_u64().unwrap_or(0), p["restarts"].as_u64()))
    };
    let (orders, _) = pid_of("orders").expect("orders");
    let kill = |signal: &str, pid: u64| {
        std::process::Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .expect("run kill")
            .success()
    };
    assert!(kill("-KILL", orders));

    // Started again (1 s of backoff), recorded, and ready.
    let restarted = mesh::testing::eventually(Duration::from_secs(60), || async {
        let (pid, restarts) = pid_of("orders")?;
        (pid != orders && restarts == Some(1)).then_some(pid)
    })
    .await
    .expect("orders was started again");
    let status = mesh::testing::eventually(Duration::from_secs(30), || async {
        let (ok, output) = meshctl(&["status", "--json"], &data).await;
        let rows: Value = serde_json::from_str(&output).ok().filter(|_| ok)?;
        let row = rows
            .as_array()?
            .iter()
            .find(|r| r["name"] == "orders")?
            .clone();
        (row["ready"] == true).then_some(row)
    })
    .await
    .expect("orders ready again, as meshctl status shows");
    assert_eq!(status["pid"], restarted);
    assert_eq!(status["restarts"], 1);
    assert_eq!(status["alive"], true);
    // The mesh works on: every step of the demo, an order included.
    let (ok, output) = meshctl(&["demo", "--json"], &data).await;
    assert!(ok, "the demo after a restart:\n{output}");

    // SIGKILL meshctl itself: every workload goes with it.
    let workloads: Vec<u64> = read_json(&data.join("stack.json"))["processes"]
        .as_array()
        .expect("processes")
        .iter()
        .filter_map(|p| p["pid"].as_u64())
        .collect();
    let pid = u64::from(up.child.id().expect("meshctl pid"));
    assert!(kill("-KILL", pid));
    let _ = up.child.wait().await;
    let gone = mesh::testing::eventually(Duration::from_secs(30), || async {
        workloads
            .iter()
            .all(|pid| !Path::new(&format!("/proc/{pid}")).exists())
            .then_some(())
    })
    .await;
    assert!(
        gone.is_some(),
        "workloads outlived meshctl up: {workloads:?}"
    );
}
