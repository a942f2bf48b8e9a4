//! The `orders` workload: orders and the payment saga that settles them
//! (pending, then paid or declined; a cancelled paid order is refunded).

use mesh::{Policy, Rule};
use mesh_proto::orders::v1::orders_server::SERVICE_NAME;

/// Command-line flags and environment of the `orders` binary.
#[derive(Debug, clap::Parser)]
#[command(name = "orders", version, about = "The orders workload of the mesh")]
pub struct Args {
    #[command(flatten)]
    pub mesh: mesh::ServerArgs,
}

/// Which workloads may call which RPC: all of them are public.
pub fn policy() -> Policy {
    let public = || Rule::peers(["gateway", "loadgen"]);
    Policy::new()
        .rpc(SERVICE_NAME, "CreateOrder", public())
        .rpc(SERVICE_NAME, "GetOrder", public())
        .rpc(SERVICE_NAME, "ListOrders", public())
        .rpc(SERVICE_NAME, "CancelOrder", public())
}

/// The workload's gRPC services on `server`.
pub fn service(server: &mesh::Server) -> anyhow::Result<mesh::Grpc> {
    Ok(server.grpc(policy()))
}
