//! The `accounts` workload: accounts owned by a subject, balances in integer
//! minor units, and an append-only ledger. Deposits come from MANAGER and
//! ADMIN users; debits and credits only from the `payments` workload, each
//! idempotent per payment or refund id.
//!
//! Everything cross-cutting (mutual TLS, tokens, the policy layer) comes
//! from `mesh`; this crate holds the domain: [`policy`], the handlers, the
//! [`Store`](store) and the [`Error`] type.

mod error;
mod handlers;
mod policy;
mod store;

use std::path::PathBuf;

use mesh_proto::accounts::v1::accounts_server::AccountsServer;

pub use error::{Error, Refusal};
pub use policy::policy;

/// Command-line flags and environment of the `accounts` binary.
#[derive(Debug, clap::Parser)]
#[command(
    name = "accounts",
    version,
    about = "The accounts workload of the mesh"
)]
pub struct Args {
    #[command(flatten)]
    pub mesh: mesh::ServerArgs,
    #[command(flatten)]
    pub accounts: AccountsArgs,
}

/// The flags of the accounts domain itself.
#[derive(Debug, Clone, clap::Args)]
pub struct AccountsArgs {
    /// Directory of the accounts database (created if missing, mode 0700).
    #[arg(long, env = "ACCOUNTS_DATA_DIR", default_value = ".mesh/accounts")]
    pub data_dir: PathBuf,
}

/// Opens the database in `args.data_dir` and returns the workload's gRPC
/// services on `server`, guarded by [`policy`].
pub async fn service(server: &mesh::Server, args: AccountsArgs) -> Result<mesh::Grpc, Error> {
    let store = store::Store::open(&args.data_dir).await?;
    let handlers = handlers::AccountsService::new(store);
    Ok(server
        .grpc(policy())
        .add_service(AccountsServer::new(handlers)))
}
