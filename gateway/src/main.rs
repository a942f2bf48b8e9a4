//! The `gateway` workload: flags, then the mesh bootstrap.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = gateway::Args::parse();
    let server = mesh::Server::start(mesh::GATEWAY, args.mesh).await?;
    let grpc = gateway::service(&server)?;
    server.serve(grpc, mesh::shutdown::signal()).await?;
    Ok(())
}
