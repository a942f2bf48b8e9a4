//! The span exporter, minus the fields that serve the logs only.
//!
//! Span fields become span attributes; `trace_id` is one of them so that
//! every log line inside a request carries the trace id, but on a span it
//! only repeats the span's own trace id. It is removed here, on its way
//! out, rather than lost from the logs.

use opentelemetry_sdk::{
    error::OTelSdkResult,
    trace::{SpanData, SpanExporter},
};

/// Attributes dropped from every exported span.
const LOG_ONLY: &[&str] = &["trace_id"];

/// Wraps an exporter, dropping [`LOG_ONLY`] attributes.
#[derive(Debug)]
pub(super) struct Scrubbed<E>(pub(super) E);

impl<E: SpanExporter> SpanExporter for Scrubbed<E> {
    async fn export(&self, mut batch: Vec<SpanData>) -> OTelSdkResult {
        for span in &mut batch {
            span.attributes
                .retain(|kv| !LOG_ONLY.contains(&kv.key.as_str()));
        }
        self.0.export(batch).await
    }

    fn shutdown_with_timeout(&self, timeout: std::time::Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.0.set_resource(resource);
    }
}
