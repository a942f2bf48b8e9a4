//! Who may call which RPC of `accounts.v1.Accounts`.
//!
//! Public RPCs come through the gateway ([`Rule::public`]: load-test peers
//! join only when load testing is switched on); `payments` may read an
//! account to learn its owner before it charges. Money moves only for
//! `payments`: `Debit` and `Credit` need its identity and a valid token
//! (the user's, or a workload's own when it finishes interrupted work),
//! but no user scope. Whether the caller may see a given account, and pay
//! from it, is checked in the handlers.

use mesh::{Policy, Role, Rule};
use mesh_proto::accounts::v1::accounts_server::SERVICE_NAME;

/// The policy table of the accounts workload.
pub fn policy() -> Policy {
    let public = Rule::public;
    let staff = [Role::Manager, Role::Admin];
    Policy::new()
        .rpc(
            SERVICE_NAME,
            "OpenAccount",
            public().scopes(["accounts:write"]),
        )
        .rpc(
            SERVICE_NAME,
            "GetAccount",
            public().and_peers(["payments"]).scopes(["accounts:read"]),
        )
        .rpc(
            SERVICE_NAME,
            "ListAccounts",
            public().scopes(["accounts:read"]),
        )
        .rpc(
            SERVICE_NAME,
            "Deposit",
            public().scopes(["accounts:write"]).roles(staff),
        )
        .rpc(
            SERVICE_NAME,
            "FreezeAccount",
            public()
                .scopes(["accounts:write", "admin"])
                .roles([Role::Admin]),
        )
        .rpc(
            SERVICE_NAME,
            "ListLedgerEntries",
            public().scopes(["accounts:read"]),
        )
        .rpc(SERVICE_NAME, "Debit", Rule::peers(["payments"]))
        .rpc(SERVICE_NAME, "Credit", Rule::peers(["payments"]))
}
