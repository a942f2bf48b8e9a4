//! The `payments` workload: charges and refunds, each idempotent per key. A
//! charge debits the payer's account through the `accounts` workload; only
//! `orders` may charge.

use mesh::{Policy, Rule};
use mesh_proto::payments::v1::payments_server::SERVICE_NAME;

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
}

/// Which workloads may call which RPC.
pub fn policy() -> Policy {
    let public = || Rule::peers(["gateway", "loadgen", "orders"]);
    Policy::new()
        .rpc(SERVICE_NAME, "Charge", Rule::peers(["orders"]))
        .rpc(SERVICE_NAME, "Refund", public())
        .rpc(SERVICE_NAME, "GetPayment", public())
        .rpc(SERVICE_NAME, "ListPayments", public())
}

/// The workload's gRPC services on `server`.
pub fn service(server: &mesh::Server) -> anyhow::Result<mesh::Grpc> {
    Ok(server.grpc(policy()))
}
