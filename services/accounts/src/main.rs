//! The `accounts` workload: flags, then the mesh bootstrap.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = accounts::Args::parse();
    let server = mesh::Server::start(mesh::ACCOUNTS, args.mesh).await?;
    let grpc = accounts::service(&server, args.accounts).await?;
    server.serve(grpc, mesh::shutdown::signal()).await?;
    Ok(())
}
