//! `meshctl`: the operator CLI of the mesh. It creates the development PKI,
//! runs the whole stack on one machine, gets tokens, walks through the
//! secure flows and load-tests them.

mod certs;
mod client;
mod demo;
mod forge;
mod load;
mod secrets;
mod status;
mod token;
mod up;

use std::{io::Write, process::ExitCode};

use clap::{CommandFactory, Parser, Subcommand};

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
    /// Run the whole stack on this machine (no Docker) until Ctrl-C.
    Up(up::UpArgs),
    /// Walk through the secure flows against a running stack, checking each step.
    Demo(demo::DemoArgs),
    /// Print an access token for a demo user or client of a running stack.
    Token(token::TokenArgs),
    /// Load-test a running stack: through the gateway (gRPC, REST, abuse) or straight to a service.
    Load(load::LoadArgs),
    /// Show the workloads of a running stack: pid, uptime, restarts, readiness.
    Status(status::StatusArgs),
    /// Rotate an OAuth client's secret without downtime (auth's admin API).
    Secrets(secrets::SecretsArgs),
    /// Print a shell completion script, e.g. `meshctl completions bash > ~/.local/share/bash-completion/completions/meshctl`.
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), e.g. `meshctl man | man -l -`.
    Man,
}

fn main() -> ExitCode {
    mesh::tls::install_default_provider();
    match run(Cli::parse().command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> anyhow::Result<()> {
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    };
    match command {
        Command::Certs(args) => certs::run(&args),
        Command::Up(args) => runtime()?.block_on(up::run(&args)),
        Command::Demo(args) => runtime()?.block_on(demo::run(&args)),
        Command::Token(args) => runtime()?.block_on(token::run(&args)),
        Command::Load(args) => runtime()?.block_on(load::run(&args)),
        Command::Secrets(args) => runtime()?.block_on(secrets::run(&args)),
        Command::Status(args) => runtime()?.block_on(status::run(&args)),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "meshctl",
                &mut std::io::stdout(),
            );
            Ok(())
        }
        Command::Man => {
            let mut page = Vec::new();
            clap_mangen::Man::new(Cli::command()).render(&mut page)?;
            std::io::stdout().write_all(&page)?;
            Ok(())
        }
    }
}
