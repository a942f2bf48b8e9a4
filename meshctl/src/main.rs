//! `meshctl`: the operator CLI of the mesh.

mod certs;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "meshctl", version, about = "Operate the secure gRPC mesh")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a development CA and a certificate for every workload.
    Certs(certs::CertsArgs),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Certs(args) => certs::run(&args),
    }
}
