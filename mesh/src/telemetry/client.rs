//! CLIENT spans for the kit's outgoing gRPC calls (semantic conventions
//! v1.27, RPC): one per call, named `package.Service/Method`, with
//! `rpc.*` and `server.*` attributes and the gRPC status. Its context is
//! what the call carries as `traceparent`, so the callee's SERVER span is
//! its child and every hop shows as a client/server pair.

use opentelemetry::trace::TraceContextExt;
use tracing::{Span, field::Empty};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// A CLIENT span for a call to `path` (`/package.Service/Method`) at
/// `server` (`host:port`), child of the current span.
pub fn client_span(path: &str, server: &str) -> Span {
    let method = path.trim_start_matches('/');
    let (service, rpc) = method.split_once('/').unwrap_or((method, ""));
    let (host, port) = super::host_and_port(server);
    tracing::info_span!(
        "grpc.client",
        otel.name = method,
        otel.kind = "client",
        otel.status_code = Empty,
        rpc.system = "grpc",
        rpc.service = service,
        rpc.method = rpc,
        rpc.grpc.status_code = Empty,
        server.address = host,
        server.port = port,
    )
}

/// A CLIENT span for an HTTP request (`method`, to `url`) at `server`
/// (`host:port`), child of the current span (HTTP conventions: named by
/// the method alone).
pub fn http_client_span(method: &http::Method, url: &str, server: &str) -> Span {
    let (host, port) = super::host_and_port(server);
    tracing::info_span!(
        "http.client",
        otel.name = method.as_str(),
        otel.kind = "client",
        otel.status_code = Empty,
        http.request.method = method.as_str(),
        http.response.status_code = Empty,
        url.full = url,
        server.address = host,
        server.port = port,
    )
}

/// Records an HTTP client call's answer: 4xx and 5xx are client errors.
pub fn record_http_status(span: &Span, status: http::StatusCode) {
    span.record("http.response.status_code", status.as_u16());
    if status.is_client_error() || status.is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
}

/// Writes `span`'s trace context into `headers` (W3C `traceparent`).
pub fn inject(span: &Span, headers: &mut http::HeaderMap) {
    let cx = span.context();
    if cx.span().span_context().is_valid() {
        opentelemetry::global::get_text_map_propagator(|p| {
            p.inject_context(&cx, &mut super::HeadersMut(headers));
        });
    }
}

/// Records the call's gRPC status `code` (its number) on `span`: every
/// status but OK is an error on the client side.
pub(crate) fn record_status(span: &Span, code: i64) {
    span.record("rpc.grpc.status_code", code);
    if code != 0 {
        span.record("otel.status_code", "ERROR");
    }
}
