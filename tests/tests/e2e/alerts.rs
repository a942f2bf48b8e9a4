//! The alerting rules against the real thing: Debian's Prometheus with the
//! shipped rules (every `for:` cut to 1 s, thresholds unchanged) scrapes
//! the whole stack; a burst of forged tokens through the gateway raises
//! `TokenForgeryAttempts`, seen through Prometheus's `/api/v1/alerts`.

use std::time::{Duration, Instant};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use mesh::testing::{TestIssuer, eventually, unverified_claims};

use crate::{prometheus::Prometheus, stack::Stack};

/// `real`'s header and claims signed by a key auth never published: the
/// header keeps the real `kid`, so the gateway checks the signature
/// against the real key and refuses it (`bad_signature`).
fn forge(real: &str) -> String {
    let mut parts = real.split('.');
    let (Some(header), Some(payload)) = (parts.next(), parts.next()) else {
        panic!("auth's token is not a compact JWT");
    };
    let header = URL_SAFE_NO_PAD.decode(header).expect("header");
    let payload = URL_SAFE_NO_PAD.decode(payload).expect("payload");
    let kid: serde_json::Value = serde_json::from_slice(&header).expect("header JSON");
    let kid = kid["kid"].as_str().expect("kid");
    let attacker = TestIssuer::new();
    attacker.add_key(kid, "ES256");
    attacker.token_from_raw(kid, &header, &payload)
}

fn forgery_alert(alerts: &[serde_json::Value]) -> Option<&serde_json::Value> {
    alerts.iter().find(|a| {
        a["labels"]["alertname"] == "TokenForgeryAttempts" && a["labels"]["service"] == "gateway"
    })
}

#[tokio::test]
async fn a_forged_token_burst_through_the_gateway_fires_the_forgery_alert() {
    let s = Stack::start(&[]).await;
    let targets: Vec<_> = s.processes().iter().map(|(_, p)| p.admin_addr).collect();
    let Some(prometheus) = Prometheus::start(&targets).await else {
        return;
    };
    let started = Instant::now();
    // The counter is exported at 0 from the start: wait (bounded) until
    // Prometheus has it, so the burst is an increase it can see.
    let series = r#"mesh_auth_failures_total{service="gateway",reason="bad_signature"}"#;
    let scraped = eventually(Duration::from_secs(30), || async {
        let samples = prometheus.query(series).await;
        (samples.first()?["value"][1] == "0").then_some(())
    })
    .await;
    assert!(scraped.is_some(), "Prometheus never scraped {series} at 0");
    let before = prometheus.alerts().await.expect("the alerts API answers");
    assert!(
        forgery_alert(&before).is_none(),
        "the forgery alert is up before any forgery: {before:#?}"
    );

    let alice = s.token("alice").await;
    let forged = forge(&alice);
    assert_eq!(
        unverified_claims(&forged)["sub"],
        unverified_claims(&alice)["sub"]
    );
    // Ten, above the threshold of 5 and within the per-IP burst (40), so
    // every one is refused as a forgery rather than rate-limited.
    for _ in 0..10 {
        let reply = s.call("GET", "/v1/accounts", &forged, "").await;
        assert_eq!(reply.status, 401, "a forged token: {}", reply.body);
    }

    // The states the alert went through (pending, then firing).
    let states = std::cell::RefCell::new(Vec::<String>::new());
    let firing = eventually(Duration::from_secs(60), || async {
        let alerts = prometheus.alerts().await?;
        let alert = forgery_alert(&alerts)?.clone();
        let state = alert["state"].as_str().unwrap_or_default().to_owned();
        let mut seen = states.borrow_mut();
        if seen.last() != Some(&state) {
            seen.push(state.clone());
        }
        (state == "firing").then_some(alert)
    })
    .await;
    let states = states.into_inner();
    let Some(alert) = firing else {
        let counted = prometheus
            .query(r#"mesh_auth_failures_total{service="gateway"} > 0"#)
            .await;
        let rules = prometheus.get("/api/v1/rules?type=alert").await;
        panic!(
            "no firing forgery alert; states seen: {states:?}\ngateway failures: {counted:#?}\nrules: {rules:#?}"
        );
    };
    assert_eq!(alert["labels"]["severity"], "warning");
    let summary = alert["annotations"]["summary"].as_str().unwrap_or_default();
    assert!(
        summary.starts_with("Forged tokens at gateway"),
        "summary: {summary}"
    );
    eprintln!(
        "forgery alert: states {states:?}, firing {:?} after Prometheus started",
        started.elapsed()
    );
}
