//! Who may call which RPC of `payments.v1.Payments`.
//!
//! `Charge` is internal: only the `orders` workload, with a valid token
//! (the user's, or its own when it finishes interrupted work) and no user
//! scope. `Refund` is for `orders` cancelling an order and for MANAGER and
//! ADMIN users through the gateway; the table cannot say "orders, or staff
//! from the gateway" for one RPC, so the handler checks the staff half
//! (and counts its denials like the policy layer does).

use mesh::{Policy, Rule};
use mesh_proto::payments::v1::payments_server::SERVICE_NAME;

/// The scope staff need to refund through the gateway.
pub(crate) const REFUND_SCOPE: &str = "payments:write";

/// The workload that charges and refunds for orders.
pub(crate) const ORDERS: &str = "orders";

/// The policy table of the payments workload.
pub fn policy() -> Policy {
    // Through the gateway (load-test peers only when switched on), or orders.
    let public = || Rule::public().and_peers([ORDERS]);
    Policy::new()
        .rpc(SERVICE_NAME, "Charge", Rule::peers([ORDERS]))
        .rpc(SERVICE_NAME, "Refund", public())
        .rpc(
            SERVICE_NAME,
            "GetPayment",
            public().scopes(["payments:read"]),
        )
        .rpc(
            SERVICE_NAME,
            "ListPayments",
            public().scopes(["payments:read"]),
        )
}
