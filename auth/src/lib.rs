//! The `auth` workload: the mesh's OAuth 2.0 authorization server.

use mesh::Policy;

/// Command-line flags and environment of the `auth` binary.
#[derive(Debug, clap::Parser)]
#[command(
    name = "auth",
    version,
    about = "The OAuth 2.0 authorization server of the mesh"
)]
pub struct Args {
    #[command(flatten)]
    pub mesh: mesh::ServerArgs,
}

/// The workload's gRPC services on `server`.
pub fn service(server: &mesh::Server) -> anyhow::Result<mesh::Grpc> {
    Ok(server.grpc(Policy::new()))
}
