//! `meshctl`: the operator CLI of the mesh. It creates the development PKI,
//! runs the whole stack on one machine, gets tokens, walks through the
//! secure flows and load-tests them.

mod certs;
mod client;
mod token;

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
    /// Print an access token for a demo user or client of a running stack.
    Token(token::TokenArgs),
}

fn main() -> anyhow::Result<()> {
    mesh::tls::install_default_provider();
    let command = Cli::parse().command;
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    };
    match command {
        Command::Certs(args) => certs::run(&args),
        Command::Token(args) => runtime()?.block_on(token::run(&args)),
    }
}
