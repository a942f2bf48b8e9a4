//! The `payments` workload: charges and refunds, each idempotent per key.
//!
//! A charge (only the `orders` workload may ask) is recorded before the
//! account is debited through `accounts`, so an interrupted charge is
//! finished, never repeated, by the next request with its key (or, if none
//! comes, by payments itself). A charge the account cannot pay is recorded
//! as DECLINED, not answered with an error. A refund credits the account
//! back the same way.
//!
//! Everything cross-cutting comes from `mesh`; this crate holds the domain:
//! [`policy`], the handlers, the store and the [`Error`] type.

mod charge;
mod error;
mod handlers;
mod policy;
mod refund;
mod resume;
mod store;

use std::{path::PathBuf, sync::Arc, time::Duration};

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

    /// How often charges and refunds left unfinished (their request cut off
    /// and never retried) are looked for; the first look is at start-up.
    #[arg(long, env = "PAYMENTS_RESUME_INTERVAL", default_value = "10s",
          value_parser = mesh::config::parse_duration)]
    pub resume_interval: Duration,

    /// How long an unfinished charge or refund is left to its caller's
    /// retries before payments finishes it with its own token.
    #[arg(long, env = "PAYMENTS_RESUME_AFTER", default_value = "60s",
          value_parser = mesh::config::parse_duration)]
    pub resume_after: Duration,
}

/// Opens the database in `args.data_dir`, starts finishing abandoned
/// charges and refunds, and returns the workload's gRPC services on
/// `server`, guarded by [`policy`]. The background work stops once the
/// server has stopped serving.
pub async fn service(server: &mesh::Server, args: PaymentsArgs) -> Result<mesh::Grpc, Error> {
    let accounts = server.upstream("accounts", &args.accounts_addr)?;
    let credentials = server.workload_credentials()?;
    let store = store::Store::open(&args.data_dir).await?;
    let handlers = Arc::new(handlers::PaymentsService::new(
        store,
        accounts,
        server.metrics().clone(),
    ));
    let schedule = resume::Schedule {
        interval: args.resume_interval,
        after: args.resume_after,
    };
    resume::spawn(Arc::downgrade(&handlers), credentials, schedule);
    Ok(server
        .grpc(policy())
        .add_service(PaymentsServer::from_arc(handlers)))
}
