//! `otlp-sink`: an OTLP/gRPC trace receiver that prints one JSON line per
//! span on stdout (`service`, `name`, `trace_id`, `span_id`, `parent`).
//!
//! It stands in for the OpenTelemetry Collector where the real one cannot
//! run (no image registry): `deploy/compose.offline.yml` starts it under the
//! collector's network name, and the container test reads its log.
//!
//! ```text
//! otlp-sink [LISTEN]     # default 0.0.0.0:4317
//! ```

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
    trace_service_server::{TraceService, TraceServiceServer},
};
use tonic::{Request, Response, Status};

use mesh_e2e::otlp::{hex, received};

/// Prints every span it is sent.
struct Sink;

#[tonic::async_trait]
impl TraceService for Sink {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        for span in received(request.into_inner()) {
            let line = serde_json::json!({
                "service": span.service,
                "name": span.name,
                "trace_id": hex(&span.trace_id),
                "span_id": hex(&span.span_id),
                "parent": hex(&span.parent),
            });
            println!("{line}");
        }
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let listen = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "0.0.0.0:4317".to_owned());
    let addr = listen
        .parse()
        .map_err(|e| anyhow::anyhow!("listen address {listen}: {e}"))?;
    eprintln!("otlp-sink: receiving OTLP/gRPC traces on {addr}");
    tonic::transport::Server::builder()
        .add_service(TraceServiceServer::new(Sink))
        .serve(addr)
        .await?;
    Ok(())
}
