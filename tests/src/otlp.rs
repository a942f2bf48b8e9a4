//! Reading OTLP trace exports: the spans of one export request, flattened
//! into what the tests check (who sent a span, its name and its place in
//! the trace). Shared by the in-test collector and `otlp-sink`.

use opentelemetry_proto::tonic::{
    collector::trace::v1::ExportTraceServiceRequest, common::v1::any_value::Value,
};

/// One received span: (service, name, trace id, span id, parent span id).
pub type Received = (String, String, Vec<u8>, Vec<u8>, Vec<u8>);

/// Every span of `request`, with the `service.name` of its resource.
pub fn received(request: ExportTraceServiceRequest) -> Vec<Received> {
    let mut spans = Vec::new();
    for resource in request.resource_spans {
        let service = resource
            .resource
            .iter()
            .flat_map(|r| &r.attributes)
            .find(|kv| kv.key == "service.name")
            .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                Value::StringValue(s) => Some(s.clone()),
                _ => None,
            })
            .unwrap_or_default();
        for scope in resource.scope_spans {
            for span in scope.spans {
                spans.push((
                    service.clone(),
                    span.name,
                    span.trace_id,
                    span.span_id,
                    span.parent_span_id,
                ));
            }
        }
    }
    spans
}

/// `bytes` in lower-case hex, as trace and span ids are written.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
