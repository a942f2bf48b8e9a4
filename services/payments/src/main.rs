//! The `payments` workload: flags, then the mesh bootstrap.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = payments::Args::parse();
    let server = mesh::Server::start(mesh::PAYMENTS, args.mesh).await?;
    let grpc = payments::service(&server, args.payments).await?;
    server.serve(grpc, mesh::shutdown::signal()).await?;
    Ok(())
}
