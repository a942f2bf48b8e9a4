//! Who may call which RPC of `orders.v1.Orders`: all of them are public,
//! through the gateway ([`Rule::public`]: load-test peers join only when
//! load testing is switched on). Whether the caller may see or cancel a
//! given order is checked in the handlers.

use mesh::{Policy, Rule};
use mesh_proto::orders::v1::orders_server::SERVICE_NAME;

/// The policy table of the orders workload.
pub fn policy() -> Policy {
    let public = Rule::public;
    Policy::new()
        .rpc(
            SERVICE_NAME,
            "CreateOrder",
            public().scopes(["orders:write"]),
        )
        .rpc(SERVICE_NAME, "GetOrder", public().scopes(["orders:read"]))
        .rpc(SERVICE_NAME, "ListOrders", public().scopes(["orders:read"]))
        .rpc(
            SERVICE_NAME,
            "CancelOrder",
            public().scopes(["orders:write"]),
        )
}
