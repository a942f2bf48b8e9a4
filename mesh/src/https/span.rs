//! The SERVER span of every request on a public HTTPS port (auth's OAuth
//! endpoints, the gateway), per the HTTP semantic conventions v1.27:
//! named `{method} {route}` once the application knows the route template
//! (`record_route`), else `{method}`; `http.*`, `url.*`, `server.*`,
//! `client.address`, `user_agent.original` and `network.protocol.version`
//! attributes; an error status for 5xx answers (and wherever the
//! application says a request was refused, see [`refused`]). A gRPC call
//! through the gateway is also an RPC span (`record_rpc`), whose status
//! comes from the trailers.
//!
//! The span continues the client's `traceparent`, and ends when the
//! response body does.

use std::net::SocketAddr;

use http::{HeaderMap, Request, Version, header};
use opentelemetry::trace::TraceContextExt;
use tracing::{Span, field::Empty};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The span of `request`, received from `client`.
pub(super) fn server_span<B>(request: &Request<B>, client: SocketAddr) -> Span {
    let headers = request.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| request.uri().authority().map(http::uri::Authority::as_str))
        .unwrap_or_default();
    let (address, port) = crate::telemetry::host_and_port(host);
    let version = match request.version() {
        Version::HTTP_2 => "2",
        Version::HTTP_10 => "1.0",
        _ => "1.1",
    };
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let method = request.method().as_str();
    let span = tracing::info_span!(
        "http.server",
        otel.name = method,
        otel.kind = "server",
        otel.status_code = Empty,
        otel.status_description = Empty,
        http.request.method = method,
        http.route = Empty,
        http.response.status_code = Empty,
        url.scheme = "https",
        url.path = request.uri().path(),
        server.address = address,
        server.port = port,
        client.address = %client.ip(),
        user_agent.original = user_agent,
        network.protocol.version = version,
        rpc.system = Empty,
        rpc.service = Empty,
        rpc.method = Empty,
        rpc.grpc.status_code = Empty,
        oauth.grant_type = Empty,
        trace_id = Empty,
    );
    let _ = span.set_parent(crate::telemetry::extract(headers));
    crate::telemetry::record_trace_id(&span);
    span
}

/// Records the response status: 5xx is an error on the server side.
pub(super) fn record_status(span: &Span, status: http::StatusCode) {
    span.record("http.response.status_code", status.as_u16());
    if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
}

/// Records a gRPC status found in `trailers` (or trailers-only headers).
pub(super) fn record_grpc_status(span: &Span, trailers: &HeaderMap) {
    if let Some(code) = trailers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok())
    {
        span.record("rpc.grpc.status_code", code);
    }
}

/// Names the current request's span by its route template, e.g.
/// `POST /v1/accounts/{account_id}:deposit`: a name per operation, never
/// per id.
pub fn record_route(method: &http::Method, route: &str) {
    let span = Span::current();
    span.record("http.route", route);
    rename(&span, format!("{method} {route}"));
}

/// Renames `span`, already started (its context exists from the moment
/// the trace id is recorded for the logs), so through OpenTelemetry.
fn rename(span: &Span, name: String) {
    span.context().span().update_name(name);
}

/// Marks the current request's span as the gRPC call `path`
/// (`/package.Service/Method`).
pub fn record_rpc(path: &str) {
    let span = Span::current();
    let method = path.trim_start_matches('/');
    let (service, rpc) = method.split_once('/').unwrap_or((method, ""));
    rename(&span, method.to_owned());
    span.record("rpc.system", "grpc");
    span.record("rpc.service", service);
    span.record("rpc.method", rpc);
}

/// Marks the current request's span as refused for `reason` (a security
/// refusal: the trace of a refused request says so, with the reason).
pub fn refused(reason: &str) {
    let span = Span::current();
    span.record("otel.status_code", "ERROR");
    span.record("otel.status_description", reason);
}

/// Records an attribute of the OAuth token endpoint: the grant type
/// (never a credential).
pub fn record_grant_type(grant_type: &str) {
    Span::current().record("oauth.grant_type", grant_type);
}

/// Middleware (`Router::route_layer`) naming the span by the route that
/// matched, for applications with fixed routes.
pub async fn named_by_route(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if let Some(route) = request.extensions().get::<axum::extract::MatchedPath>() {
        record_route(request.method(), route.as_str());
    }
    next.run(request).await
}
