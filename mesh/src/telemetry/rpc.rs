//! Every RPC counted, timed and traced, as the outermost layer of the
//! server stack so that refusals by the layers inside are seen too.
//!
//! The span continues the caller's trace (W3C `traceparent`), so one
//! request through the mesh is one trace. The gRPC status is in the
//! response headers for an immediate refusal and in the trailers otherwise,
//! so the response body is wrapped, and the RPC is recorded (metric and
//! span status) when the body ends or is dropped.
//!
//! The SERVER span follows the gRPC conventions: named
//! `package.Service/Method`, `rpc.grpc.status_code` as a number, and an
//! error status only for the codes that mean the server failed (a refusal
//! such as PERMISSION_DENIED is the caller's problem, and its reason is an
//! event on the span).

use std::{
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Instant,
};

use http_body::{Body, Frame};
use tower::{Layer, Service};
use tracing::{Instrument, Span, field::Empty};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::{metrics::Metrics, policy::Policy};

/// Adds [`RpcService`] to a stack.
#[derive(Debug, Clone)]
pub struct RpcLayer {
    metrics: Metrics,
    policy: Arc<Policy>,
}

impl RpcLayer {
    /// Records into `metrics`; methods not in `policy` are labelled
    /// `unknown`, because callers choose paths and label sets must stay bounded.
    pub fn new(metrics: Metrics, policy: Arc<Policy>) -> Self {
        Self { metrics, policy }
    }
}

impl<S> Layer<S> for RpcLayer {
    type Service = RpcService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcService {
            inner,
            metrics: self.metrics.clone(),
            policy: self.policy.clone(),
        }
    }
}

/// Counts, times and traces every RPC.
#[derive(Debug, Clone)]
pub struct RpcService<S> {
    inner: S,
    metrics: Metrics,
    policy: Arc<Policy>,
}

impl<S, B, ResBody> Service<http::Request<B>> for RpcService<S>
where
    S: Service<http::Request<B>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
    ResBody: Body + Send + 'static,
{
    type Response = http::Response<MeteredBody<ResBody>>;
    type Error = S::Error;
    type Future =
        Pin<Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let path = req.uri().path();
        let method: Arc<str> = if self.policy.rule(path).is_some() {
            path.into()
        } else {
            "unknown".into()
        };
        let (service, rpc) = method
            .trim_start_matches('/')
            .split_once('/')
            .unwrap_or(("unknown", "unknown"));
        let span = tracing::info_span!(
            "grpc.server",
            otel.name = method.trim_start_matches('/'),
            otel.kind = "server",
            otel.status_code = Empty,
            rpc.system = "grpc",
            rpc.service = service,
            rpc.method = rpc,
            rpc.grpc.status_code = Empty,
            trace_id = Empty,
        );
        let _ = span.set_parent(super::extract(req.headers()));
        super::record_trace_id(&span);
        let start = Instant::now();
        let metrics = self.metrics.clone();
        let future = span.in_scope(|| self.inner.call(req));
        let record_span = span.clone();
        Box::pin(
            async move {
                let response = future.await?;
                let code = response
                    .headers()
                    .get("grpc-status")
                    .map(|v| code_name(v.as_bytes()));
                Ok(response.map(|body| MeteredBody {
                    body,
                    record: Some(Record {
                        metrics,
                        method,
                        start,
                        code,
                        span: record_span,
                    }),
                }))
            }
            .instrument(span),
        )
    }
}

/// What to record when the response ends.
#[derive(Debug)]
struct Record {
    metrics: Metrics,
    method: Arc<str>,
    start: Instant,
    code: Option<&'static str>,
    span: Span,
}

impl Drop for Record {
    fn drop(&mut self) {
        // A body dropped before its trailers means the call was cut short.
        let code = self.code.unwrap_or("CANCELLED");
        let trace_id = super::trace_id(&self.span);
        self.metrics.rpc(
            &self.method,
            code,
            self.start.elapsed().as_secs_f64(),
            trace_id,
        );
        self.span.record("rpc.grpc.status_code", code_number(code));
        if SERVER_ERRORS.contains(&code) {
            self.span.record("otel.status_code", "ERROR");
        }
    }
}

pin_project_lite::pin_project! {
    /// A response body that records its RPC when it ends.
    #[derive(Debug)]
    pub struct MeteredBody<B> {
        #[pin]
        body: B,
        record: Option<Record>,
    }
}

impl<B: Body> Body for MeteredBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let polled = this.body.poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(code) = frame.trailers_ref().and_then(|t| t.get("grpc-status"))
                    && let Some(record) = this.record.as_mut()
                {
                    record.code = Some(code_name(code.as_bytes()));
                }
            }
            Poll::Ready(None) => {
                if let Some(record) = this.record.as_mut() {
                    record.code.get_or_insert("OK");
                }
                this.record.take();
            }
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// The codes that mark a SERVER span as failed (semantic conventions, gRPC).
const SERVER_ERRORS: &[&str] = &[
    "UNKNOWN",
    "DEADLINE_EXCEEDED",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
];

/// The canonical code names, by number.
const CODES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

/// The number of a canonical code name.
fn code_number(name: &str) -> i64 {
    CODES
        .iter()
        .position(|c| *c == name)
        .map_or(2, |n| n as i64)
}

/// The canonical name of a `grpc-status` value.
fn code_name(value: &[u8]) -> &'static str {
    std::str::from_utf8(value)
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .and_then(|n| CODES.get(n).copied())
        .unwrap_or("UNKNOWN")
}
