//! Metrics from every process: each kind of security failure, provoked
//! against the running stack, shows up in the matching counter with its
//! reason; and every query of both Grafana dashboards returns data from a
//! real Prometheus scraping that stack.

use std::{collections::BTreeMap, time::Duration};

use mesh::testing::{eventually, metric, plaintext_channel};
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

use crate::{prometheus::Prometheus, stack::Stack};

/// Provokes one of each security failure the dashboards show.
async fn provoke(s: &Stack, alice: &str) {
    // A forged token at the edge: 401, or 429 once an earlier round's
    // flood has spent this address's budget for unauthenticated requests.
    let forged = s.call("GET", "/v1/orders", "not-a-token", "").await.status;
    assert!(
        forged == 401 || forged == 429,
        "forged token answered {forged}"
    );
    // A USER asking for a MANAGER operation, refused by the accounts policy.
    let deposit = r#"{"amountMinor":"1","currency":"EUR","idempotencyKey":"x"}"#;
    assert_eq!(
        s.call("POST", "/v1/accounts/a-1:deposit", alice, deposit)
            .await
            .status,
        403
    );
    // Plaintext to a mutual-TLS port.
    let _ = HealthClient::new(plaintext_channel(s.accounts.grpc_addr))
        .check(HealthCheckRequest::default())
        .await;
    // An unauthenticated flood from one address, past the per-IP limit.
    let floods = (0..80).map(|_| s.rest("GET /v1/orders HTTP/1.1\r\n", ""));
    let statuses: Vec<u16> = futures_util::future::join_all(floods)
        .await
        .iter()
        .map(|r| r.status)
        .collect();
    assert!(
        statuses.contains(&429),
        "the per-IP limit never applied: {statuses:?}"
    );
}

async fn scrape(process: &crate::support::Process) -> String {
    mesh::testing::http_get(process.admin_addr, "/metrics")
        .await
        .1
}

#[tokio::test]
async fn security_failures_are_counted_by_reason_and_dashboards_have_data() {
    let s = Stack::start(&[]).await;
    let alice = s.token("alice").await;
    let account = s
        .call("POST", "/v1/accounts", &alice, r#"{"currency":"EUR"}"#)
        .await;
    assert_eq!(account.status, 200, "{}", account.body);
    provoke(&s, &alice).await;

    let checks: [(&str, &crate::support::Process, &str, &str); 6] = [
        (
            "gateway",
            &s.gateway,
            "mesh_auth_failures_total",
            "reason=\"malformed\"",
        ),
        (
            "accounts",
            &s.accounts,
            "mesh_authz_denied_total",
            "reason=\"missing_role\"",
        ),
        (
            "accounts",
            &s.accounts,
            "mesh_tls_handshake_failures_total",
            "reason=\"not_tls\"",
        ),
        (
            "gateway",
            &s.gateway,
            "mesh_ratelimit_rejected_total",
            "key=\"ip\"",
        ),
        (
            "orders",
            &s.orders,
            "mesh_jwks_refresh_total",
            "result=\"ok\"",
        ),
        (
            "auth",
            &s.auth,
            "mesh_tokens_issued_total",
            "grant_type=\"password\"",
        ),
    ];
    for (name, process, series, labels) in checks {
        let counted = eventually(Duration::from_secs(10), || async {
            (metric(&scrape(process).await, series, labels) >= 1.0).then_some(())
        })
        .await;
        assert!(
            counted.is_some(),
            "{name}: {series}{{{labels}}} did not go up:\n{}",
            scrape(process).await
        );
    }
    for (name, process) in s.processes() {
        let text = scrape(process).await;
        let expiry = metric(&text, "mesh_cert_expiry_timestamp_seconds", "service=");
        assert!(expiry > 1.7e9, "{name}: no certificate expiry:\n{text}");
    }

    dashboards_have_data(&s, &alice).await;
}

/// Starts Debian's `prometheus` scraping the stack, with the shipped rules,
/// and evaluates every panel query of both dashboards through its HTTP API.
async fn dashboards_have_data(s: &Stack, alice: &str) {
    let targets: Vec<_> = s.processes().iter().map(|(_, p)| p.admin_addr).collect();
    let Some(prometheus) = Prometheus::start(&targets).await else {
        return;
    };

    // Keep traffic and failures flowing while Prometheus collects a few
    // scrapes. The flood of `provoke` keeps the per-IP limit refusing, so
    // an alert fires and the panel of firing alerts has data too.
    let mut queries = BTreeMap::new();
    for file in ["traffic.json", "security.json"] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../grafana/dashboards")
            .join(file);
        let dashboard: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).expect("dashboard")).expect("JSON");
        for panel in dashboard["panels"].as_array().expect("panels") {
            for (i, target) in panel["targets"]
                .as_array()
                .expect("targets")
                .iter()
                .enumerate()
            {
                let title = format!(
                    "{file}: {} #{i}",
                    panel["title"].as_str().unwrap_or_default()
                );
                queries.insert(title, target["expr"].as_str().expect("expr").to_owned());
            }
        }
    }
    let mut missing = queries.clone();
    for round in 0..60 {
        if round % 10 == 0 {
            eprintln!(
                "dashboards: round {round}, {} queries without data yet",
                missing.len()
            );
        }
        provoke(s, alice).await;
        s.call("GET", "/v1/accounts", alice, "").await;
        let mut still = BTreeMap::new();
        for (title, expr) in &missing {
            if prometheus.query(expr).await.is_empty() {
                still.insert(title.clone(), expr.clone());
            }
        }
        missing = still;
        if missing.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert!(
        missing.is_empty(),
        "panel queries without data: {missing:#?}"
    );
}
