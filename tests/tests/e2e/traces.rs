//! One request, one trace: an order sent through the gateway shows up as
//! one trace with no orphan span, a CLIENT/SERVER pair on every hop (auth's
//! token exchanges included), span names that are operations, never ids,
//! the attributes of the OpenTelemetry semantic conventions (v1.27), none
//! of the tracing machinery's noise, and no token anywhere. A refused
//! request's edge span is an error carrying the reason as an event. The
//! spans are received by an OTLP collector running in this test, over
//! real OTLP/gRPC.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use opentelemetry_proto::tonic::{
    collector::trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
        trace_service_server::{TraceService, TraceServiceServer},
    },
    trace::v1::{span::SpanKind, status::StatusCode},
};
use tonic::{Request, Response, Status};

use crate::stack::Stack;

pub(crate) use mesh_e2e::otlp::Received;

/// An OTLP/gRPC trace receiver keeping every span it is sent.
#[derive(Debug, Clone, Default)]
pub(crate) struct Collector {
    spans: Arc<Mutex<Vec<Received>>>,
}

impl Collector {
    /// Serves OTLP on `addr` (`127.0.0.1:0` for any port); returns the
    /// collector and its endpoint URL.
    pub(crate) async fn start(addr: &str) -> (Self, String) {
        let collector = Self::default();
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .unwrap_or_else(|e| panic!("bind the OTLP receiver to {addr}: {e}"));
        let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(TraceServiceServer::new(collector.clone()))
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );
        (collector, endpoint)
    }

    /// Waits (bounded) until the spans of trace `trace_id` (hex) received
    /// so far are `complete`, and returns them.
    pub(crate) async fn trace_until(
        &self,
        trace_id: &str,
        complete: impl Fn(&[Received]) -> bool,
    ) -> Option<Vec<Received>> {
        let trace_id = hex(trace_id);
        // Spans are exported in batches: wait (bounded) for all of them.
        mesh::testing::eventually(Duration::from_secs(30), || async {
            let spans: Vec<Received> = self
                .spans
                .lock()
                .expect("lock")
                .iter()
                .filter(|s| s.trace_id == trace_id)
                .cloned()
                .collect();
            complete(&spans).then_some(spans)
        })
        .await
    }
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let spans = mesh_e2e::otlp::received(request.into_inner());
        self.spans.lock().expect("lock").extend(spans);
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tokio::test]
async fn an_order_is_one_trace_across_every_hop() {
    let (collector, endpoint) = Collector::start("127.0.0.1:0").await;
    let s = Stack::start(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.clone()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100".to_owned()),
    ])
    .await;
    let alice = s.token("alice").await;
    let maria = s.token("maria").await;
    let account = s
        .call("POST", "/v1/accounts", &alice, r#"{"currency":"EUR"}"#)
        .await
        .json();
    let account_id = account["accountId"].as_str().expect("accountId").to_owned();
    let deposit = r#"{"amountMinor":"5000","currency":"EUR","idempotencyKey":"d1"}"#;
    s.call(
        "POST",
        &format!("/v1/accounts/{account_id}:deposit"),
        &maria,
        deposit,
    )
    .await;

    let trace_parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let body = format!(
        r#"{{"accountId":"{account_id}","currency":"EUR","idempotencyKey":"t1","items":[{{"sku":"tea","quantity":1,"unitPriceMinor":"100"}}]}}"#
    );
    let head = format!(
        "POST /v1/orders HTTP/1.1\r\nAuthorization: Bearer {alice}\r\nContent-Type: application/json\r\nUser-Agent: e2e-traces\r\ntraceparent: {trace_parent}\r\n"
    );
    let reply = s.rest(&head, &body).await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    // Complete once every hop's server span is in, and every span but
    // the edge's (whose parent is the client's) has its parent in too.
    let hops = [
        ("gateway", "POST /v1/orders"),
        ("orders", "orders.v1.Orders/CreateOrder"),
        ("payments", "payments.v1.Payments/Charge"),
        ("accounts", "accounts.v1.Accounts/Debit"),
        ("auth", "auth.v1.Auth/ExchangeToken"),
    ];
    let client_parent = hex("00f067aa0ba902b7");
    let spans = collector
        .trace_until("4bf92f3577b34da6a3ce929d0e0e4736", |spans| {
            let has = |service: &str, name: &str| {
                spans.iter().any(|s| s.service == service && s.name == name)
            };
            let parent_in = |span: &Received| {
                span.parent == client_parent || spans.iter().any(|p| p.span_id == span.parent)
            };
            hops.iter().all(|(service, name)| has(service, name)) && spans.iter().all(parent_in)
        })
        .await
        .unwrap_or_else(|| {
            let received = collector.spans.lock().expect("lock").clone();
            let summary: Vec<String> = received
                .iter()
                .filter(|s| s.trace_id == hex("4bf92f3577b34da6a3ce929d0e0e4736"))
                .map(|s| {
                    format!(
                        "{} {:?} {} id={:?} parent={:?}",
                        s.service,
                        s.kind,
                        s.name,
                        &s.span_id[..2],
                        &s.parent[..2.min(s.parent.len())]
                    )
                })
                .collect();
            let edge: Vec<_> = received
                .iter()
                .filter(|s| s.service == "gateway" && s.kind == SpanKind::Server)
                .map(|s| (&s.name, &s.attributes))
                .collect();
            panic!("spans of every hop, each with its parent; got {summary:#?} {edge:#?}")
        });

    let by_id: HashMap<&[u8], &Received> =
        spans.iter().map(|s| (s.span_id.as_slice(), s)).collect();
    let parent = |span: &Received| by_id.get(span.parent.as_slice()).copied();
    let server_span = |service: &str, name: &str| {
        spans
            .iter()
            .find(|s| s.service == service && s.name == name && s.kind == SpanKind::Server)
            .unwrap_or_else(|| panic!("no {service} SERVER span {name}: {spans:#?}"))
    };
    let gateway = server_span("gateway", "POST /v1/orders");
    assert_eq!(
        gateway.parent, client_parent,
        "the edge continues the client's traceparent"
    );

    // Every hop behind the edge is a CLIENT span of the caller, parent of
    // the callee's SERVER span.
    for (service, caller, name) in [
        ("orders", "gateway", "orders.v1.Orders/CreateOrder"),
        ("payments", "orders", "payments.v1.Payments/Charge"),
        ("accounts", "payments", "accounts.v1.Accounts/Debit"),
    ] {
        let server = server_span(service, name);
        let client = parent(server).unwrap_or_else(|| panic!("{name} has no parent"));
        assert_eq!(
            (client.service.as_str(), client.kind, client.name.as_str()),
            (caller, SpanKind::Client, name),
            "{name}"
        );
        assert_eq!(client.attribute("rpc.system"), Some("grpc"));
        assert!(client.attribute("server.address").is_some(), "{client:#?}");
    }
    // Each token exchange at auth is in the trace, as a pair too, and its
    // CLIENT span is the exchanging workload's.
    let exchanges: Vec<&Received> = spans
        .iter()
        .filter(|s| s.service == "auth" && s.name == "auth.v1.Auth/ExchangeToken")
        .collect();
    assert!(!exchanges.is_empty());
    for exchange in exchanges {
        let client = parent(exchange).expect("the exchange's client span");
        assert_eq!(client.kind, SpanKind::Client);
        assert_ne!(client.service, "auth");
    }

    // The attributes of the conventions; a resource that names the instance.
    for (key, expected) in [
        ("http.request.method", Some("POST")),
        ("http.route", Some("/v1/orders")),
        ("http.response.status_code", Some("200")),
        ("url.scheme", Some("https")),
        ("network.protocol.version", Some("1.1")),
        ("client.address", Some("127.0.0.1")),
        ("server.address", Some("localhost")),
        ("user_agent.original", Some("e2e-traces")),
    ] {
        assert_eq!(gateway.attribute(key), expected, "gateway {key}");
    }
    let debit = server_span("accounts", "accounts.v1.Accounts/Debit");
    for (key, expected) in [
        ("rpc.system", "grpc"),
        ("rpc.service", "accounts.v1.Accounts"),
        ("rpc.method", "Debit"),
        ("rpc.grpc.status_code", "0"),
    ] {
        assert_eq!(debit.attribute(key), Some(expected), "accounts {key}");
    }
    for span in &spans {
        for key in ["service.version", "service.instance.id"] {
            assert!(
                span.resource.contains_key(key),
                "{} lacks {key}",
                span.service
            );
        }
        // No noise of the machinery, no ids in names, no token anywhere.
        for (key, value) in &span.attributes {
            let noise = key.starts_with("code.")
                || key.starts_with("thread.")
                || ["busy_ns", "idle_ns", "target", "trace_id", "level"].contains(&key.as_str());
            assert!(
                !noise,
                "{} {}: noise attribute {key}",
                span.service, span.name
            );
            assert!(
                !value.contains(&alice) && !value.contains("eyJ"),
                "{} {}: {key} holds a token",
                span.service,
                span.name
            );
        }
        assert!(
            !span.name.contains(&account_id) && !span.name.starts_with('/'),
            "span name {:?}",
            span.name
        );
    }

    // The latency histograms link to the trace by exemplar (OpenMetrics).
    let metrics = mesh::testing::http_get(s.orders.admin_addr, "/metrics")
        .await
        .1;
    let exemplar = "trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\"";
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("mesh_rpc_duration_seconds_bucket") && l.contains(exemplar)),
        "no exemplar of the trace on orders' latency buckets:\n{metrics}"
    );

    // A refused request: the edge's span is an error and says why.
    let refused_trace = "5bf92f3577b34da6a3ce929d0e0e4736";
    let head = format!(
        "GET /v1/orders HTTP/1.1\r\nAuthorization: Bearer not.a.token\r\n\
         traceparent: 00-{refused_trace}-00f067aa0ba902b7-01\r\n"
    );
    assert_eq!(s.rest(&head, "").await.status, 401);
    let refused = collector
        .trace_until(refused_trace, |spans| !spans.is_empty())
        .await
        .expect("the refused request's span");
    let edge = &refused[0];
    assert_eq!(
        (edge.name.as_str(), edge.status),
        ("GET /v1/orders", StatusCode::Error),
        "{edge:#?}"
    );
    let reason = edge
        .events
        .iter()
        .find(|(name, _)| name == "auth.failure")
        .and_then(|(_, attributes)| attributes.get("reason"))
        .unwrap_or_else(|| panic!("no auth.failure event: {edge:#?}"));
    assert_eq!(reason, "malformed");

    // A login through the gateway: the gateway's CLIENT span, auth's
    // SERVER span with the grant type and never a credential.
    let login_trace = "6bf92f3577b34da6a3ce929d0e0e4736";
    let secret = s.credentials()["clients"]["loadgen"]
        .as_str()
        .expect("loadgen")
        .to_owned();
    let basic = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("loadgen:{secret}"),
    );
    let head = format!(
        "POST /oauth2/token HTTP/1.1\r\nAuthorization: Basic {basic}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\n\
         traceparent: 00-{login_trace}-00f067aa0ba902b7-01\r\n"
    );
    assert_eq!(
        s.rest(&head, "grant_type=client_credentials").await.status,
        200
    );
    let login = collector
        .trace_until(login_trace, |spans| {
            spans.iter().any(|auth| {
                auth.service == "auth"
                    && auth.kind == SpanKind::Server
                    && spans.iter().any(|p| p.span_id == auth.parent)
            })
        })
        .await
        .expect("auth's span of the login");
    let auth = login
        .iter()
        .find(|s| s.service == "auth" && s.kind == SpanKind::Server)
        .expect("auth span");
    assert_eq!(auth.name, "POST /oauth2/token");
    assert_eq!(
        auth.attribute("oauth.grant_type"),
        Some("client_credentials")
    );
    let client = login
        .iter()
        .find(|s| s.span_id == auth.parent)
        .expect("the gateway's CLIENT span of the login");
    assert_eq!(
        (client.service.as_str(), client.kind),
        ("gateway", SpanKind::Client)
    );
    for span in &login {
        for value in span.attributes.values() {
            assert!(
                !value.contains(&secret),
                "{}: a secret in a span",
                span.name
            );
        }
    }

    // `meshctl demo` exports the root of its order's trace: no phantom
    // parent in the trace the README tells you to open.
    let mut demo = tokio::process::Command::new(crate::support::binary("meshctl"));
    demo.args(["demo", "--json", "--gateway"])
        .arg(format!("https://{}", s.public()))
        .arg("--ca")
        .arg(s.pki.dir().ca_cert())
        .arg("--credentials")
        .arg(s.scratch.path().join("auth-data/demo-credentials.json"))
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)
        .env("OTEL_BSP_SCHEDULE_DELAY", "100");
    let (status, output) = crate::support::run_to_exit(demo).await;
    assert!(status.success(), "meshctl demo: {output}");
    let report: serde_json::Value = serde_json::from_str(&output).expect("demo JSON");
    let trace_id = report["trace_id"].as_str().expect("trace id");
    let demo_spans = collector
        .trace_until(trace_id, |spans| {
            spans.iter().any(|s| s.service == "meshctl")
                && spans
                    .iter()
                    .any(|s| s.service == "gateway" && s.kind == SpanKind::Server)
        })
        .await
        .expect("the demo's root span and the edge's span");
    let root = demo_spans
        .iter()
        .find(|s| s.service == "meshctl")
        .expect("meshctl's span");
    assert!(
        root.parent.is_empty(),
        "the demo's span is the root: {root:#?}"
    );
    let edge = demo_spans
        .iter()
        .find(|s| s.service == "gateway" && s.kind == SpanKind::Server)
        .expect("the gateway's span");
    assert_eq!(
        edge.parent, root.span_id,
        "the edge's parent is the demo's span"
    );
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}
