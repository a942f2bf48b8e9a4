//! The `auth` workload: flags, then the mesh bootstrap.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = auth::Args::parse();
    let server = mesh::Server::start(mesh::AUTH, args.mesh).await?;
    let grpc = auth::service(&server)?;
    server.serve(grpc, mesh::shutdown::signal()).await?;
    Ok(())
}
