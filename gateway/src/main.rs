//! The `gateway` workload: flags, then the mesh bootstrap and the public port.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = gateway::Args::parse();
    let started = gateway::Started::start(args).await?;
    started.serve(mesh::shutdown::token()).await
}
