//! `bench-target`: the accounts read path served in one security mode, for
//! `bench/run.sh`. See the crate docs in `lib.rs`.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match mesh_bench::Cli::parse().command {
        mesh_bench::Command::Serve(args) => {
            let target = mesh_bench::Target::start(*args).await?;
            target.serve(mesh::shutdown::signal()).await
        }
        mesh_bench::Command::Frame { account_id } => {
            use std::io::Write;
            std::io::stdout().write_all(&mesh_bench::frame::get_account(&account_id))?;
            Ok(())
        }
    }
}
