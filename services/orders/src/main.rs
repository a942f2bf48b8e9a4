//! The `orders` workload: flags, then the mesh bootstrap.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = orders::Args::parse();
    let server = mesh::Server::start(mesh::ORDERS, args.mesh).await?;
    let grpc = orders::service(&server, args.orders).await?;
    server.serve(grpc, mesh::shutdown::signal()).await?;
    Ok(())
}
