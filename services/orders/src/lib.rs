//! The `orders` workload: orders and the payment saga that settles them.
//!
//! Creating an order writes it PENDING, then charges it through `payments`
//! under a key derived from the order id, then records PAID or DECLINED;
//! cancelling a paid order writes CANCELLING, refunds it, then records
//! CANCELLED. Each state is written before the remote call that follows,
//! and every remote call is idempotent, so a crash between any two steps
//! is repaired by doing the next step again: a background task resumes
//! unfinished orders with the workload's own token, and each order ends
//! exactly once.
//!
//! Everything cross-cutting comes from `mesh`; this crate holds the domain:
//! [`policy`], the handlers, the saga, the store and the [`Error`] type.

mod error;
mod handlers;
mod input;
mod metrics;
mod policy;
mod resume;
mod saga;
mod store;

use std::{path::PathBuf, sync::Arc, time::Duration};

use mesh_proto::orders::v1::orders_server::OrdersServer;

pub use error::Error;
pub use policy::policy;
pub use saga::{charge_key, refund_key};

/// Command-line flags and environment of the `orders` binary.
#[derive(Debug, clap::Parser)]
#[command(name = "orders", version, about = "The orders workload of the mesh")]
pub struct Args {
    #[command(flatten)]
    pub mesh: mesh::ServerArgs,
    #[command(flatten)]
    pub orders: OrdersArgs,
}

/// The flags of the orders domain itself.
#[derive(Debug, Clone, clap::Args)]
pub struct OrdersArgs {
    /// Directory of the orders database (created if missing, mode 0700).
    #[arg(long, env = "ORDERS_DATA_DIR", default_value = ".mesh/orders")]
    pub data_dir: PathBuf,

    /// Address (host:port) of the payments workload's mutual-TLS port.
    #[arg(long, env = "PAYMENTS_ADDR", default_value = "127.0.0.1:7003")]
    pub payments_addr: String,

    /// How often unfinished orders (after a crash, or a payments outage)
    /// are looked for and resumed; the first look is at start-up.
    #[arg(long, env = "ORDERS_RESUME_INTERVAL", default_value = "2s",
          value_parser = mesh::config::parse_duration)]
    pub resume_interval: Duration,

    /// How long a PENDING order is left to its client's retries (which pay
    /// with the user's token) before it is resumed with the workload's own
    /// token, which cannot start a charge and so declines one that never
    /// reached payments. Cancellations are resumed at once.
    #[arg(long, env = "ORDERS_RESUME_AFTER", default_value = "30s",
          value_parser = mesh::config::parse_duration)]
    pub resume_after: Duration,
}

/// Opens the database in `args.data_dir`, starts resuming unfinished
/// orders, and returns the workload's gRPC services on `server`, guarded
/// by [`policy`]. Resuming stops once the server has stopped serving.
pub async fn service(server: &mesh::Server, args: OrdersArgs) -> Result<mesh::Grpc, Error> {
    let payments = server.upstream("payments", &args.payments_addr)?;
    let credentials = server.workload_credentials()?;
    let store = store::Store::open(&args.data_dir).await?;
    let handlers = Arc::new(handlers::OrdersService::new(store, payments));
    let schedule = resume::Schedule {
        interval: args.resume_interval,
        after: args.resume_after,
    };
    let backlog = metrics::Backlog::register(server);
    resume::spawn(Arc::downgrade(&handlers), credentials, schedule, backlog);
    Ok(server
        .grpc(policy())
        .add_service(OrdersServer::from_arc(handlers)))
}
