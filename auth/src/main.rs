//! The `auth` binary: flags, then the library's start and serve.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let app = auth::App::start(auth::Args::parse()).await?;
    app.serve(mesh::shutdown::signal()).await?;
    Ok(())
}
