//! Reading OTLP trace exports: the spans of one export request, flattened
//! into what the tests check (who sent a span, its name, kind, status,
//! attributes and events, and its place in the trace). Shared by the
//! in-test collector and `otlp-sink`.

use std::collections::HashMap;

use opentelemetry_proto::tonic::{
    collector::trace::v1::ExportTraceServiceRequest,
    common::v1::{KeyValue, any_value::Value},
    trace::v1::{span::SpanKind, status::StatusCode},
};

/// One received span, with what the tests read of it.
#[derive(Debug, Clone)]
pub struct Received {
    /// `service.name` of its resource.
    pub service: String,
    pub name: String,
    pub trace_id: Vec<u8>,
    pub span_id: Vec<u8>,
    /// Empty for a root span.
    pub parent: Vec<u8>,
    pub kind: SpanKind,
    pub status: StatusCode,
    /// Span attributes, values as text.
    pub attributes: HashMap<String, String>,
    /// Resource attributes, values as text.
    pub resource: HashMap<String, String>,
    /// Events: name and attributes.
    pub events: Vec<(String, HashMap<String, String>)>,
}

impl Received {
    /// An attribute's value as text.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }
}

/// Key-values as text.
fn text(kvs: &[KeyValue]) -> HashMap<String, String> {
    kvs.iter()
        .map(|kv| {
            let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(Value::StringValue(s)) => s.clone(),
                Some(Value::IntValue(i)) => i.to_string(),
                Some(Value::BoolValue(b)) => b.to_string(),
                Some(Value::DoubleValue(d)) => d.to_string(),
                other => format!("{other:?}"),
            };
            (kv.key.clone(), value)
        })
        .collect()
}

/// Every span of `request`.
pub fn received(request: ExportTraceServiceRequest) -> Vec<Received> {
    let mut spans = Vec::new();
    for resource_spans in request.resource_spans {
        let resource = text(
            resource_spans
                .resource
                .as_ref()
                .map_or(&[][..], |r| &r.attributes),
        );
        let service = resource.get("service.name").cloned().unwrap_or_default();
        for scope in resource_spans.scope_spans {
            for span in scope.spans {
                spans.push(Received {
                    service: service.clone(),
                    kind: span.kind(),
                    status: span.status.as_ref().map_or(StatusCode::Unset, |s| s.code()),
                    name: span.name,
                    trace_id: span.trace_id,
                    span_id: span.span_id,
                    parent: span.parent_span_id,
                    attributes: text(&span.attributes),
                    resource: resource.clone(),
                    events: span
                        .events
                        .iter()
                        .map(|e| (e.name.clone(), text(&e.attributes)))
                        .collect(),
                });
            }
        }
    }
    spans
}

/// `bytes` in lower-case hex, as trace and span ids are written.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
