//! The `gateway` workload: the one public door of the mesh. Its mutual-TLS
//! gRPC port serves health to the mesh; the public port is added by the
//! gateway issue.

use mesh::Policy;

/// Command-line flags and environment of the `gateway` binary.
#[derive(Debug, clap::Parser)]
#[command(name = "gateway", version, about = "The public gateway of the mesh")]
pub struct Args {
    #[command(flatten)]
    pub mesh: mesh::ServerArgs,
}

/// The gateway's mesh-facing gRPC services: health and reflection only.
pub fn service(server: &mesh::Server) -> anyhow::Result<mesh::Grpc> {
    Ok(server.grpc(Policy::new()))
}
