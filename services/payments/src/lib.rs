//! The `payments` workload: charges and refunds, each idempotent per key.
//!
//! A charge (only the `orders` workload may ask) is recorded before the
//! account is debited through `accounts`, so an interrupted charge is
//! finished, never repeated, by the next request with its key. A charge
//! the account cannot pay is recorded as DECLINED, not answered with an
//! error. A refund credits the account back the same way.
//!
//! Everything cross-cutting comes from `mesh`; this crate holds the domain:
//! [`policy`], the handlers, the store and the [`Error`] type.

mod charge;
mod error;
mod handlers;
mod in_flight;
mod input;
mod page;
mod policy;
mod refund;
mod store;

use std::path::PathBuf;

use mesh_proto::payments::v1::payments_server::PaymentsServer;

pub use error::Error;
pub use policy::policy;

/// Command-line flags and environment of the `payments` binary.
#[derive(Debug, clap::Parser)]
#[command(
    name = "payments",
    version,
    about = "The payments workload of the mesh"
)]
pub struct Args {
    #[command(flatten)]
    pub mesh: mesh::ServerArgs,
    #[command(flatten)]
    pub payments: PaymentsArgs,
}

/// The flags of the payments domain itself.
#[derive(Debug, Clone, clap::Args)]
pub struct PaymentsArgs {
    /// Directory of the payments database (created if missing, mode 0700).
    #[arg(long, env = "PAYMENTS_DATA_DIR", default_value = ".mesh/payments")]
    pub data_dir: PathBuf,

    /// Address (host:port) of the accounts workload's mutual-TLS port.
    #[arg(long, env = "ACCOUNTS_ADDR", default_value = "127.0.0.1:7004")]
    pub accounts_addr: String,
}

/// Opens the database in `args.data_dir` and returns the workload's gRPC
/// services on `server`, guarded by [`policy`].
pub async fn service(server: &mesh::Server, args: PaymentsArgs) -> Result<mesh::Grpc, Error> {
    let accounts = server.upstream("accounts", &args.accounts_addr)?;
    let store = store::Store::open(&args.data_dir).await?;
    let handlers = handlers::PaymentsService::new(store, accounts, server.metrics().clone());
    Ok(server
        .grpc(policy())
        .add_service(PaymentsServer::new(handlers)))
}
