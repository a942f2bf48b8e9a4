//! One request, one trace: an order sent through the gateway shows up as
//! spans of the gateway, orders, payments and accounts sharing one trace
//! id, each hop the child of the one before. The spans are received by an
//! OTLP collector running in this test, over real OTLP/gRPC.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
    trace_service_server::{TraceService, TraceServiceServer},
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
                .filter(|s| s.2 == trace_id)
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
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
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
        "POST /v1/orders HTTP/1.1\r\nAuthorization: Bearer {alice}\r\nContent-Type: application/json\r\ntraceparent: {trace_parent}\r\n"
    );
    let reply = s.rest(&head, &body).await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    // Complete once every hop's server span is in, and every span behind
    // the edge has its parent in too (a hop may export before its caller:
    // orders calls payments twice, to check the account, then to charge).
    let hops = [
        ("gateway", "/v1/orders"),
        ("orders", "CreateOrder"),
        ("payments", "Charge"),
        ("accounts", "Debit"),
    ];
    let spans = collector
        .trace_until("4bf92f3577b34da6a3ce929d0e0e4736", |spans| {
            let has = |service: &str, name: &str| {
                spans.iter().any(|s| s.0 == service && s.1.contains(name))
            };
            let parent_in = |span: &Received| spans.iter().any(|p| p.3 == span.4);
            hops.iter().all(|(service, name)| has(service, name))
                && spans.iter().filter(|s| s.0 != "gateway").all(parent_in)
        })
        .await
        .expect("spans of every hop in the client's trace, each with its parent");

    let by_id: HashMap<&[u8], &Received> = spans.iter().map(|s| (s.3.as_slice(), s)).collect();
    let parent_service = |span: &Received| by_id.get(span.4.as_slice()).map(|p| p.0.clone());
    let server_span = |service: &str, name: &str| {
        spans
            .iter()
            .find(|s| s.0 == service && s.1.contains(name))
            .unwrap_or_else(|| panic!("no {service} span for {name}: {spans:?}"))
    };
    let gateway = server_span("gateway", "/v1/orders");
    assert_eq!(
        gateway.4,
        hex("00f067aa0ba902b7"),
        "the edge continues the client's traceparent"
    );
    assert_eq!(
        parent_service(server_span("orders", "CreateOrder")).as_deref(),
        Some("gateway")
    );
    assert_eq!(
        parent_service(server_span("payments", "Charge")).as_deref(),
        Some("orders")
    );
    assert_eq!(
        parent_service(server_span("accounts", "Debit")).as_deref(),
        Some("payments")
    );

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
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}
