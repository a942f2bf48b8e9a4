//! `meshctl demo`: a scripted walk through the secure flows of a running
//! stack, through its gateway as any client would: log in demo users, open
//! an account, show that a USER may not deposit and a MANAGER may, place an
//! order (paid through orders → payments → accounts over mutual TLS, each
//! hop re-checking the caller's token), show its payment and the balance,
//! then show that another user cannot read the order and that a forged
//! token is refused. The order is sent with a W3C `traceparent` the demo
//! starts, so its trace id is known and printed.
//!
//! Every step checks its outcome; the command fails if any does not match.

use anyhow::Context;
use clap::Args;
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde_json::{Value, json};

use crate::{
    client::{Gateway, StackArgs, Subject, error_text},
    forge::Forger,
};

/// Flags of `meshctl demo`.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    #[command(flatten)]
    stack: StackArgs,

    /// Print the outcome of every step as one JSON document.
    #[arg(long)]
    json: bool,
}

/// The outcome of one step.
#[derive(Debug, Serialize)]
struct Step {
    step: &'static str,
    ok: bool,
    /// The HTTP status the gateway answered.
    status: u16,
    detail: String,
}

/// Everything the walk produced, as `--json` prints it.
#[derive(Debug, Default, Serialize)]
struct Report {
    gateway: String,
    ok: bool,
    account_id: Option<String>,
    order_id: Option<String>,
    payment_id: Option<String>,
    trace_id: Option<String>,
    steps: Vec<Step>,
}

pub(crate) async fn run(args: &DemoArgs) -> anyhow::Result<()> {
    let traces = mesh::telemetry::init_traces("meshctl");
    let gateway = args.stack.connect()?;
    let mut report = Report {
        gateway: gateway.base.clone(),
        ..Report::default()
    };
    let walked = walk(&gateway, &mut report, !args.json).await;
    if traces {
        mesh::telemetry::flush();
    }
    report.ok = walked.is_ok() && report.steps.iter().all(|s| s.ok);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else if let Some(trace_id) = &report.trace_id {
        println!("\n  trace id of the order: {trace_id}");
        println!(
            "  (with traces exported, e.g. `docker compose up`: http://localhost:16686/trace/{trace_id})"
        );
    }
    walked?;
    anyhow::ensure!(report.ok, "a step did not go as expected");
    Ok(())
}

/// One REST call's status and JSON body.
struct Reply {
    status: StatusCode,
    body: Value,
    text: String,
}

async fn call(
    gw: &Gateway,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
    traceparent: Option<&str>,
) -> anyhow::Result<Reply> {
    let url = gw.url(path);
    let mut request = gw.http.request(method.clone(), &url).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    if let Some(traceparent) = traceparent {
        request = request.header("traceparent", traceparent);
    }
    let response = request
        .send()
        .await
        .with_context(|| format!("{method} {url}"))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    Ok(Reply {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    })
}

/// Records a step and prints it unless the output is JSON; returns whether
/// it went as expected.
fn record(report: &mut Report, print: bool, step: Step) -> bool {
    if print {
        let mark = if step.ok { "ok  " } else { "FAIL" };
        println!("  {mark} {:<16} {}", step.step, step.detail);
    }
    let ok = step.ok;
    report.steps.push(step);
    ok
}

/// `expected` met, or the gateway's own words.
fn outcome(reply: &Reply, expected: StatusCode, detail: String) -> (bool, String) {
    if reply.status == expected {
        (true, detail)
    } else {
        (
            false,
            format!(
                "expected {expected}, got {}: {}",
                reply.status,
                error_text(&reply.text)
            ),
        )
    }
}

fn money(minor: &Value, currency: &str) -> String {
    let minor: i64 = minor
        .as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| minor.as_i64())
        .unwrap_or_default();
    format!("{}.{:02} {currency}", minor / 100, minor % 100)
}

/// Runs the steps in order, stopping at the first that fails.
async fn walk(gw: &Gateway, report: &mut Report, print: bool) -> anyhow::Result<()> {
    if print {
        println!("Secure flows through {}\n", gw.base);
    }
    let step = |report: &mut Report, step: &'static str, status: StatusCode, (ok, detail)| {
        record(
            report,
            print,
            Step {
                step,
                ok,
                status: status.as_u16(),
                detail,
            },
        )
    };

    let alice = gw.token(&Subject::User("alice".into()), None, None).await?;
    let bob = gw.token(&Subject::User("bob".into()), None, None).await?;
    let maria = gw.token(&Subject::User("maria".into()), None, None).await?;
    let (alice, bob, maria) = (alice.access_token, bob.access_token, maria.access_token);
    step(
        report,
        "tokens",
        StatusCode::OK,
        (
            true,
            "alice and bob (USER) and maria (MANAGER) logged in (password grant, `meshctl` client)"
                .into(),
        ),
    );

    let reply = call(
        gw,
        Method::POST,
        "/v1/accounts",
        &alice,
        Some(json!({"currency": "EUR"})),
        None,
    )
    .await?;
    let account = reply.body["accountId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let result = outcome(
        &reply,
        StatusCode::OK,
        format!("alice opened account {account} (EUR)"),
    );
    if !step(report, "open account", reply.status, result) {
        return Ok(());
    }
    report.account_id = Some(account.clone());

    let deposit = |key: &str| json!({"amountMinor": "10000", "currency": "EUR", "idempotencyKey": format!("demo-{key}-{}", uuid::Uuid::new_v4())});
    let path = format!("/v1/accounts/{account}:deposit");
    let reply = call(gw, Method::POST, &path, &alice, Some(deposit("user")), None).await?;
    let result = outcome(
        &reply,
        StatusCode::FORBIDDEN,
        format!(
            "alice (USER) may not deposit: {} {}",
            reply.status,
            error_text(&reply.text)
        ),
    );
    if !step(report, "USER deposit", reply.status, result) {
        return Ok(());
    }

    let reply = call(
        gw,
        Method::POST,
        &path,
        &maria,
        Some(deposit("manager")),
        None,
    )
    .await?;
    let result = outcome(
        &reply,
        StatusCode::OK,
        format!(
            "maria (MANAGER) deposited {}",
            money(&json!("10000"), "EUR")
        ),
    );
    if !step(report, "deposit", reply.status, result) {
        return Ok(());
    }

    // The order's trace starts here: a root span of the demo's own when
    // traces are exported, so the trace has no missing parent.
    let root = tracing::info_span!("meshctl.demo", otel.name = "meshctl demo: place an order");
    let (trace_id, traceparent) = traced(&root).unwrap_or_else(traceparent);
    let order = json!({
        "accountId": account,
        "currency": "EUR",
        "idempotencyKey": format!("demo-order-{}", uuid::Uuid::new_v4()),
        "items": [{"sku": "green-tea", "quantity": 2, "unitPriceMinor": "1250"}],
    });
    let reply = call(
        gw,
        Method::POST,
        "/v1/orders",
        &alice,
        Some(order),
        Some(&traceparent),
    )
    .await?;
    drop(root);
    report.trace_id = Some(trace_id);
    let order_id = reply.body["orderId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let order_status = reply.body["status"].as_str().unwrap_or_default().to_owned();
    let amount = reply.body["amountMinor"].clone();
    let (ok, detail) = outcome(
        &reply,
        StatusCode::OK,
        format!(
            "alice's order {order_id} for {} is {order_status}",
            money(&amount, "EUR")
        ),
    );
    let ok = ok && order_status == "ORDER_STATUS_PAID";
    if !step(report, "order", reply.status, (ok, detail)) {
        return Ok(());
    }
    report.order_id = Some(order_id.clone());
    let payment = reply.body["paymentId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    report.payment_id = Some(payment.clone());

    let reply = call(
        gw,
        Method::GET,
        &format!("/v1/payments/{payment}"),
        &alice,
        None,
        None,
    )
    .await?;
    let payment_status = reply.body["status"].as_str().unwrap_or_default().to_owned();
    let (ok, detail) = outcome(
        &reply,
        StatusCode::OK,
        format!("its payment {payment} is {payment_status}"),
    );
    if !step(
        report,
        "payment",
        reply.status,
        (ok && payment_status.ends_with("CAPTURED"), detail),
    ) {
        return Ok(());
    }

    let reply = call(
        gw,
        Method::GET,
        &format!("/v1/accounts/{account}"),
        &alice,
        None,
        None,
    )
    .await?;
    let paid: i64 = amount
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_default();
    let expected = json!((10_000 - paid).to_string());
    let (ok, detail) = outcome(
        &reply,
        StatusCode::OK,
        format!(
            "alice's balance is {}",
            money(&reply.body["balanceMinor"], "EUR")
        ),
    );
    if !step(
        report,
        "balance",
        reply.status,
        (ok && reply.body["balanceMinor"] == expected, detail),
    ) {
        return Ok(());
    }

    // Another user's order does not exist for bob: not found, not forbidden,
    // so its existence does not leak.
    let reply = call(
        gw,
        Method::GET,
        &format!("/v1/orders/{order_id}"),
        &bob,
        None,
        None,
    )
    .await?;
    let result = outcome(
        &reply,
        StatusCode::NOT_FOUND,
        format!(
            "bob cannot read alice's order: {} {}",
            reply.status,
            error_text(&reply.text)
        ),
    );
    if !step(report, "cross-user read", reply.status, result) {
        return Ok(());
    }

    let forged = Forger::generate()?.forge(&alice, "demo-forged", None)?;
    let reply = call(gw, Method::GET, "/v1/accounts", &forged, None, None).await?;
    let result = outcome(
        &reply,
        StatusCode::UNAUTHORIZED,
        format!(
            "alice's token re-signed by a key auth never published is refused: {} {}",
            reply.status,
            error_text(&reply.text)
        ),
    );
    step(report, "forged token", reply.status, result);
    Ok(())
}

/// `span`'s trace id and the `traceparent` that continues it, when spans
/// are exported.
fn traced(span: &tracing::Span) -> Option<(String, String)> {
    let mut headers = http::HeaderMap::new();
    mesh::telemetry::inject(span, &mut headers);
    let header = headers.get("traceparent")?.to_str().ok()?.to_owned();
    let trace_id = header.split('-').nth(1)?.to_owned();
    Some((trace_id, header))
}

/// A fresh W3C trace context: the trace id and the `traceparent` header
/// (sampled) that starts a trace with it.
fn traceparent() -> (String, String) {
    let trace_id = uuid::Uuid::new_v4().simple().to_string();
    let span_id = uuid::Uuid::new_v4().simple().to_string();
    let header = format!("00-{trace_id}-{}-01", &span_id[..16]);
    (trace_id, header)
}

#[cfg(test)]
mod tests {
    #[test]
    fn traceparent_is_w3c_shaped() {
        let (trace_id, header) = super::traceparent();
        let parts: Vec<&str> = header.split('-').collect();
        assert_eq!(parts.len(), 4);
        assert_eq!(
            (parts[0], parts[1], parts[3]),
            ("00", trace_id.as_str(), "01")
        );
        assert_eq!((parts[1].len(), parts[2].len()), (32, 16));
        assert!(
            header[3..]
                .bytes()
                .all(|b| b == b'-' || b.is_ascii_hexdigit())
        );
    }
}
