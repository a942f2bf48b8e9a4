//! The `accounts` workload: accounts owned by a subject, balances in integer
//! minor units, and an append-only ledger. Deposits come from MANAGER and
//! ADMIN users; debits and credits only from the `payments` workload.

use mesh::{Policy, Rule};
use mesh_proto::accounts::v1::accounts_server::SERVICE_NAME;

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
}

/// Which workloads may call which RPC. Public RPCs come through the gateway
/// (or `loadgen` for direct load tests); money moves only for `payments`.
pub fn policy() -> Policy {
    let public = || Rule::peers(["gateway", "loadgen"]);
    Policy::new()
        .rpc(SERVICE_NAME, "OpenAccount", public())
        .rpc(SERVICE_NAME, "GetAccount", public())
        .rpc(SERVICE_NAME, "ListAccounts", public())
        .rpc(SERVICE_NAME, "Deposit", public())
        .rpc(SERVICE_NAME, "FreezeAccount", public())
        .rpc(SERVICE_NAME, "ListLedgerEntries", public())
        .rpc(SERVICE_NAME, "Debit", Rule::peers(["payments"]))
        .rpc(SERVICE_NAME, "Credit", Rule::peers(["payments"]))
}

/// The workload's gRPC services on `server`.
pub fn service(server: &mesh::Server) -> anyhow::Result<mesh::Grpc> {
    Ok(server.grpc(policy()))
}
