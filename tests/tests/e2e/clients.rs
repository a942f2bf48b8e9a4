//! Clients we did not write reach the mesh through the gateway: `curl` for
//! REST, Python's `grpcio` for gRPC, and grpcio's reflection and health
//! clients (what grpcurl, Postman and load balancers do) discovering the
//! public API and checking the edge, against the real stack.
//!
//! Both are outside programs; when one is missing the test says so and
//! stops, except under CI (`CI` set), where `.ci/run` provides them.

use std::{path::Path, process::Command};

use crate::stack::Stack;

fn available(program: &str, probe: &[&str]) -> bool {
    let found = Command::new(program)
        .args(probe)
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must provide {program}"
        );
        eprintln!("{program} is not available: skipping");
    }
    found
}

#[tokio::test]
async fn curl_and_grpcio_reach_the_mesh_through_the_gateway() {
    if !available("curl", &["--version"]) || !available("python3", &["-m", "venv", "--help"]) {
        return;
    }
    let s = Stack::start(&[]).await;
    let alice = s.token("alice").await;
    let maria = s.token("maria").await;
    let ca = s.pki.dir().ca_cert();
    let base = format!("https://localhost:{}", s.public().port());
    let curl = |args: &[&str]| {
        let output = Command::new("curl")
            .args(["-sS", "--max-time", "20", "--cacert"])
            .arg(&ca)
            .arg("--resolve")
            .arg(format!("localhost:{}:127.0.0.1", s.public().port()))
            .args(args)
            .output()
            .expect("run curl");
        assert!(
            output.status.success(),
            "curl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap_or_else(|e| {
            panic!(
                "curl {args:?}: not JSON ({e}): {}",
                String::from_utf8_lossy(&output.stdout)
            )
        })
    };
    let bearer = |token: &str| format!("Authorization: Bearer {token}");
    let json = "Content-Type: application/json";

    let account = curl(&[
        "-H",
        &bearer(&alice),
        "-H",
        json,
        "-d",
        r#"{"currency":"EUR"}"#,
        &format!("{base}/v1/accounts"),
    ]);
    let account_id = account["accountId"].as_str().expect("accountId").to_owned();
    let deposit = format!("{base}/v1/accounts/{account_id}:deposit");
    let body = r#"{"amountMinor":"1000","currency":"EUR","idempotencyKey":"curl-dep"}"#;
    curl(&["-H", &bearer(&maria), "-H", json, "-d", body, &deposit]);
    let order_body = format!(
        r#"{{"accountId":"{account_id}","currency":"EUR","idempotencyKey":"curl-o","items":[{{"sku":"tea","quantity":1,"unitPriceMinor":"300"}}]}}"#
    );
    let order = curl(&[
        "-H",
        &bearer(&alice),
        "-H",
        json,
        "-d",
        &order_body,
        &format!("{base}/v1/orders"),
    ]);
    assert_eq!(order["status"], "ORDER_STATUS_PAID", "{order}");
    let order_id = order["orderId"].as_str().expect("orderId").to_owned();
    let listed = curl(&[
        "-H",
        &bearer(&alice),
        &format!("{base}/v1/orders?pageSize=5"),
    ]);
    assert!(
        listed["orders"]
            .as_array()
            .is_some_and(|o| o.iter().any(|x| x["orderId"] == order_id))
    );
    let problem = curl(&[&format!("{base}/v1/orders")]);
    assert_eq!(problem["status"], 401, "{problem}");

    // grpcio, pinned, in a virtual environment of its own.
    let clients = Path::new(env!("CARGO_MANIFEST_DIR")).join("clients");
    let venv = crate::support::venv(&clients.join("requirements.txt"));
    let python = venv.path().join("bin/python");
    for script in ["grpc_client.py", "reflect_client.py"] {
        let run = Command::new(&python)
            .arg(clients.join(script))
            .arg(s.public().to_string())
            .arg(&ca)
            .arg(&alice)
            .arg(&order_id)
            .output()
            .expect("run a grpcio client");
        assert!(
            run.status.success(),
            "{script}: {}{}",
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        );
    }
}
