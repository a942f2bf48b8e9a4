//! The secret rotation drill an operator runs, on the real stack: while
//! `meshctl load` runs, `meshctl secrets rotate` gives `loadgen` a new
//! secret; token requests with the old secret and with the new one all
//! succeed during the grace period; after `--finish` the old one gets
//! `invalid_client`, and a load that reads the credentials file (which now
//! holds the new secret) has no failure.
//!
//! The token requests of this test are what checks the secrets: the load
//! tool fetches its token once at start (and renews it only after three
//! quarters of its 5-minute lifetime), so the load across the rotation
//! shows that calls go on, not which secret it used.

use std::path::PathBuf;

use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::Value;
use tokio::process::Command;

use crate::{
    stack::Stack,
    support::{binary, run_to_exit},
};

/// `meshctl` with `args`, pointed at `stack` by flags alone.
fn meshctl(stack: &Stack, credentials: &PathBuf, args: &[&str]) -> Command {
    let mut cmd = Command::new(binary("meshctl"));
    cmd.args(args)
        .arg("--gateway")
        .arg(format!("https://{}", stack.public()))
        .arg("--ca")
        .arg(stack.pki.dir().ca_cert())
        .arg("--credentials")
        .arg(credentials);
    cmd
}

/// A `client_credentials` request of `loadgen` with `secret`: its status.
async fn loadgen_token(stack: &Stack, secret: &str) -> u16 {
    let basic = STANDARD.encode(format!("loadgen:{secret}"));
    let head = format!(
        "POST /oauth2/token HTTP/1.1\r\nAuthorization: Basic {basic}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\n"
    );
    stack
        .rest(&head, "grant_type=client_credentials")
        .await
        .status
}

/// The JSON report at the end of `meshctl load --json` output.
fn report(output: &str) -> Value {
    let start = output
        .find('{')
        .unwrap_or_else(|| panic!("no report in:\n{output}"));
    serde_json::Deserializer::from_str(&output[start..])
        .into_iter::<Value>()
        .next()
        .and_then(Result::ok)
        .unwrap_or_else(|| panic!("no JSON report in:\n{output}"))
}

fn loadgen_secret(stack: &Stack) -> String {
    stack.credentials()["clients"]["loadgen"]
        .as_str()
        .expect("loadgen")
        .to_owned()
}

#[tokio::test]
async fn a_client_secret_rotates_under_load_with_no_failed_request() {
    // The drill's own token requests stay clear of the per-address limit.
    let stack = Stack::start(&[("GATEWAY_RATE_IP", "1000".to_owned())]).await;
    let credentials = stack.scratch.path().join("auth-data/demo-credentials.json");
    let auth_url = format!("https://{}", stack.auth.https_addr.expect("auth HTTPS"));
    let old = loadgen_secret(&stack);

    // The load starts with the old secret and runs through the rotation.
    let load = meshctl(
        &stack,
        &credentials,
        &[
            "load",
            "--scenario",
            "read",
            "--rate",
            "20",
            "--duration",
            "6s",
            "--json",
        ],
    );
    let running = tokio::spawn(run_to_exit(load));
    for _ in 0..5 {
        assert_eq!(loadgen_token(&stack, &old).await, 200);
    }
    let rotate = meshctl(
        &stack,
        &credentials,
        &[
            "secrets", "rotate", "--client", "loadgen", "--grace", "1h", "--auth", &auth_url,
        ],
    );
    let (status, printed) = run_to_exit(rotate).await;
    assert!(status.success(), "rotate: {printed}");
    let new = loadgen_secret(&stack);
    assert_ne!(new, old, "the credentials file holds the new secret");
    assert!(
        printed.contains(&new),
        "the new secret is shown once: {printed}"
    );
    // Both secrets work during the grace period.
    for _ in 0..5 {
        assert_eq!(
            loadgen_token(&stack, &old).await,
            200,
            "old, during the grace"
        );
        assert_eq!(loadgen_token(&stack, &new).await, 200, "new");
    }
    let (status, output) = running.await.expect("load task");
    assert!(status.success(), "load across the rotation: {output}");
    let during = report(&output);
    assert_eq!(during["requests"]["errors"], 0, "{during}");
    assert!(during["requests"]["ok"].as_u64() > Some(0), "{during}");

    // Finish: the old secret is refused, the new one and the load go on.
    let finish = meshctl(
        &stack,
        &credentials,
        &[
            "secrets", "rotate", "--client", "loadgen", "--finish", "--auth", &auth_url,
        ],
    );
    let (status, printed) = run_to_exit(finish).await;
    assert!(status.success(), "finish: {printed}");
    assert_eq!(loadgen_token(&stack, &old).await, 401);
    assert_eq!(loadgen_token(&stack, &new).await, 200);
    let after = meshctl(
        &stack,
        &credentials,
        &[
            "load",
            "--scenario",
            "read",
            "--rate",
            "20",
            "--requests",
            "20",
            "--json",
        ],
    );
    let (status, output) = run_to_exit(after).await;
    assert!(status.success(), "load with the new secret: {output}");
    let after = report(&output);
    assert_eq!(after["requests"]["errors"], 0, "{after}");
    assert_eq!(after["requests"]["ok"], 20, "{after}");

    // auth saw the old secret in use during the grace period.
    let (_, metrics) = mesh::testing::http_get(stack.auth.admin_addr, "/metrics").await;
    let previous = mesh::testing::metric(
        &metrics,
        "mesh_client_secret_used_total",
        r#"client="loadgen",generation="previous""#,
    );
    assert!(previous >= 5.0, "{previous}");
}
