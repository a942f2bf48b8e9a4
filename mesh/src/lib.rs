//! The shared kit of every mesh workload.
//!
//! A service crate holds its domain, store, policy table and error type;
//! everything cross-cutting comes from here:
//!
//! - [`tls`] and [`identity`]: mutual TLS with SPIFFE workload identities,
//!   rotated certificates picked up without a restart;
//! - [`peer`], [`jwt`] and [`policy`]: tower layers that hand handlers a
//!   verified [`PeerId`] and [`Caller`] (the subject's token, re-validated on
//!   every hop) and enforce the per-RPC policy table;
//! - [`server`]: the bootstrap (`Server::start`, then `serve`), with
//!   explicit HTTP/2 limits, health, reflection and an admin port;
//! - [`client`]: pooled mutual-TLS channels to named upstreams;
//! - [`metrics`], [`telemetry`]: Prometheus metrics and logging;
//! - [`pki`]: the development CA behind `meshctl certs` and the tests.

pub mod client;
pub mod config;
pub mod https;
pub mod idempotency;
pub mod identity;
pub mod input;
pub mod jwt;
pub mod metrics;
pub mod paging;
pub mod peer;
pub mod pki;
pub mod policy;
pub mod server;
pub mod shutdown;
pub mod store;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tls;

pub use client::Upstream;
pub use config::{
    ACCOUNTS, AUTH, GATEWAY, Limits, ORDERS, PAYMENTS, ServerArgs, TlsArgs, Workload,
};
pub use identity::{PeerId, SpiffeId, TrustDomain};
pub use jwt::{Caller, Claims, JwtLayer, Role, Validator};
pub use metrics::Metrics;
pub use peer::PeerIdLayer;
pub use policy::{AuthorizeLayer, Policy, Rule};
pub use server::{Grpc, Readiness, Server, StartError};
