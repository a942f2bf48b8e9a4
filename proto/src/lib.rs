//! The mesh's protobuf APIs: generated messages, tonic clients and servers,
//! and the encoded descriptor set (with `google.api.http` options intact)
//! that reflection and the gateway's REST transcoding read.
//!
//! The `.proto` sources live in `proto/proto/`. An RPC with a
//! `google.api.http` annotation is public (the gateway exposes it); one
//! without is internal to the mesh.

#![allow(unreachable_pub, missing_docs, clippy::all)]

/// Encoded `google.protobuf.FileDescriptorSet` of every mesh API and its
/// imports, options included.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/mesh_descriptor.bin"));

/// `auth.v1`: token exchange, the JWKS and the revocation feed for mesh workloads.
pub mod auth {
    pub mod v1 {
        tonic::include_proto!("auth.v1");
    }
}

/// `accounts.v1`: accounts, deposits and the ledger.
pub mod accounts {
    pub mod v1 {
        tonic::include_proto!("accounts.v1");
    }
}

/// `payments.v1`: charges and refunds.
pub mod payments {
    pub mod v1 {
        tonic::include_proto!("payments.v1");
    }
}

/// `orders.v1`: orders and the payment saga.
pub mod orders {
    pub mod v1 {
        tonic::include_proto!("orders.v1");
    }
}

/// `google.api`: the HTTP rule annotations, for readers of the descriptor set.
pub mod google {
    pub mod api {
        tonic::include_proto!("google.api");
    }
}

/// Applies message size limits to a generated server, so the `mesh` kit can
/// configure every service the same way without knowing its type.
pub trait MessageLimits {
    /// Refuses requests larger than `bytes` (`RESOURCE_EXHAUSTED`) and
    /// responses larger than `bytes`.
    fn with_max_message_size(self, bytes: usize) -> Self;
}

macro_rules! message_limits {
    ($($server:ident :: $ty:ident < $tr:ident >),* $(,)?) => {$(
        impl<T: $server::$tr> MessageLimits for $server::$ty<T> {
            fn with_max_message_size(self, bytes: usize) -> Self {
                self.max_decoding_message_size(bytes).max_encoding_message_size(bytes)
            }
        }
    )*};
}

use accounts::v1::accounts_server;
use auth::v1::{auth_server, revocations_server, workload_tokens_server};
use orders::v1::orders_server;
use payments::v1::payments_server;

message_limits!(
    auth_server::AuthServer<Auth>,
    workload_tokens_server::WorkloadTokensServer<WorkloadTokens>,
    revocations_server::RevocationsServer<Revocations>,
    accounts_server::AccountsServer<Accounts>,
    payments_server::PaymentsServer<Payments>,
    orders_server::OrdersServer<Orders>,
);
