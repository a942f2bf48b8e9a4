//! Logs and traces, set up once per process.
//!
//! - Logs: `RUST_LOG` filters (default `info`), `--log-format` picks text
//!   or JSON lines; lines inside an RPC carry its span fields, `trace_id`
//!   included when tracing is on.
//! - Traces: exported over OTLP/gRPC when `OTEL_EXPORTER_OTLP_ENDPOINT` is
//!   set, nothing otherwise; `OTEL_SERVICE_NAME` (default: the workload
//!   name) and `OTEL_RESOURCE_ATTRIBUTES` are honoured. The W3C trace
//!   context crosses every hop in gRPC metadata.
//!
//! Spans follow the OpenTelemetry semantic conventions v1.27 (HTTP stable,
//! RPC/gRPC as of that release): SERVER spans named by route template or
//! `service/method`, CLIENT spans on every outgoing call of the kit, the
//! resource with `service.name`, `service.version` and
//! `service.instance.id`, and no attribute of the tracing machinery itself
//! (`code.*`, `thread.*`, timings, targets, the logs' `trace_id`).
//! Security refusals are span events (`auth.failure`, `authz.denied`, with
//! their reason) on the span that refused.
//!
//! Tokens and secrets are never span or log fields.

mod client;
mod edge;
mod export;
mod rpc;

use std::sync::OnceLock;

use opentelemetry::{
    Context,
    propagation::{Extractor, Injector},
    trace::{TraceContextExt, TracerProvider as _},
};
use opentelemetry_sdk::{
    Resource,
    propagation::TraceContextPropagator,
    runtime::Tokio,
    trace::{SdkTracerProvider, span_processor_with_async_runtime::BatchSpanProcessor},
};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::{EnvFilter, Layer, fmt, prelude::*};

pub(crate) use client::record_status as record_client_status;
pub use client::{client_span, http_client_span, inject, record_http_status};
pub use edge::{HttpLayer, HttpService};
pub use rpc::{RpcLayer, RpcService};

/// The target of events meant for traces only (span events), kept out of
/// the logs, which already say the same in words.
pub const SPAN_EVENTS: &str = "mesh::span_event";

use crate::config::LogFormat;

/// The tracer provider, kept to flush spans before exit.
static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Installs the global subscriber (and the OTLP exporter if configured).
/// A second call (tests start many servers in one process) keeps the first.
pub fn init(format: LogFormat, workload: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = match format {
        LogFormat::Text => fmt::layer().with_target(false).boxed(),
        LogFormat::Json => fmt::layer().json().flatten_event(true).boxed(),
    };
    let logs = logs.with_filter(tracing_subscriber::filter::filter_fn(|meta| {
        meta.target() != SPAN_EVENTS
    }));
    let traces = tracer_provider(workload).map(otel_layer);
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(logs)
        .with(traces)
        .try_init();
    if installed.is_ok() {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    }
}

/// For command-line tools: traces only, no log output (their standard
/// output is their answer), exported when `OTEL_EXPORTER_OTLP_ENDPOINT` is
/// set. Returns whether spans are exported. Call [`flush`] before exit.
pub fn init_traces(service: &str) -> bool {
    let Some(provider) = tracer_provider(service) else {
        return false;
    };
    let traces = otel_layer(provider);
    let installed = tracing_subscriber::registry()
        .with(EnvFilter::new("info"))
        .with(traces)
        .try_init();
    if installed.is_ok() {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    }
    installed.is_ok()
}

/// The layer that turns spans into OpenTelemetry spans of `provider`
/// (kept to flush at exit).
fn otel_layer<S>(
    provider: SdkTracerProvider,
) -> tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::Tracer>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    let tracer = provider.tracer("mesh");
    let _ = PROVIDER.set(provider);
    tracing_opentelemetry::layer()
        .with_tracer(tracer)
        // None of the machinery: source locations, threads, busy/idle
        // times, targets and levels are noise in a trace.
        .with_location(false)
        .with_threads(false)
        .with_tracked_inactivity(false)
        .with_target(false)
        .with_level(false)
}

/// `host:port` as the `server.address` and `server.port` attributes
/// (`[::1]:443` too); no port if there is none to read.
pub(crate) fn host_and_port(authority: &str) -> (&str, Option<i64>) {
    if let Some(rest) = authority.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((host, port)) => (host, port.strip_prefix(':').and_then(|p| p.parse().ok())),
            None => (authority, None),
        };
    }
    match authority.split_once(':') {
        Some((host, port)) if !port.contains(':') => (host, port.parse().ok()),
        // A bare IPv6 address, or no port.
        _ => (authority, None),
    }
}

/// An OTLP/gRPC exporter to `OTEL_EXPORTER_OTLP_ENDPOINT`, if set.
fn tracer_provider(workload: &str) -> Option<SdkTracerProvider> {
    let endpoint = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty())?;
    let exporter = match opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .build()
    {
        Ok(exporter) => exporter,
        Err(error) => {
            eprintln!(
                "OTEL_EXPORTER_OTLP_ENDPOINT={endpoint}: cannot build the OTLP exporter: {error}; traces are off"
            );
            return None;
        }
    };
    let mut resource = Resource::builder().with_attributes([
        opentelemetry::KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
        opentelemetry::KeyValue::new("service.instance.id", uuid::Uuid::new_v4().to_string()),
    ]);
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name(workload.to_owned());
    }
    let exporter = export::Scrubbed(exporter);
    Some(
        SdkTracerProvider::builder()
            .with_span_processor(BatchSpanProcessor::builder(exporter, Tokio).build())
            .with_resource(resource.build())
            .build(),
    )
}

/// Sends the spans still buffered; call before the process exits.
pub fn flush() {
    if let Some(provider) = PROVIDER.get() {
        let _ = provider.force_flush();
    }
}

/// The trace context carried by `headers` (W3C `traceparent`).
pub fn extract(headers: &http::HeaderMap) -> Context {
    opentelemetry::global::get_text_map_propagator(|p| p.extract(&Headers(headers)))
}

/// Records the span's trace id as its `trace_id` field, for the logs.
pub(crate) fn record_trace_id(span: &tracing::Span) {
    if let Some(trace_id) = trace_id(span) {
        span.record("trace_id", trace_id);
    }
}

/// `error` and its sources on one line (`outer: cause: root cause`), for
/// logging an error whose details must not reach the caller.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The span's trace id, when tracing is on.
pub(crate) fn trace_id(span: &tracing::Span) -> Option<String> {
    PROVIDER.get()?;
    let cx = span.context();
    let span_context = cx.span().span_context().clone();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

struct Headers<'a>(&'a http::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

struct HeadersMut<'a>(&'a mut http::HeaderMap);

impl Injector for HeadersMut<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::host_and_port;

    #[test]
    fn authorities_split_into_host_and_port() {
        assert_eq!(host_and_port("localhost:8443"), ("localhost", Some(8443)));
        assert_eq!(host_and_port("[::1]:7443"), ("::1", Some(7443)));
        assert_eq!(host_and_port("::1"), ("::1", None));
        assert_eq!(host_and_port("auth"), ("auth", None));
        assert_eq!(host_and_port("auth:x"), ("auth", None));
    }
}
