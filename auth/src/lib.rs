//! The `auth` workload: the mesh's OAuth 2.0 authorization server.
//!
//! It issues RFC 9068 JWT access tokens (`at+jwt`, ES256 by default) that
//! every other workload validates with the keys it publishes, and speaks:
//!
//! - HTTPS (`http`): the token endpoint with `client_credentials`,
//!   `password` (development only), `refresh_token` (rotation and reuse
//!   detection) and RFC 8693 token exchange for mesh workloads; RFC 7662
//!   introspection, RFC 7009 revocation, the JWKS, discovery, and an admin
//!   call to rotate keys;
//! - gRPC `auth.v1.Auth` over the mesh's mutual TLS (`grpc`): token
//!   exchange and the JWKS; `auth.v1.Revocations`, the feed of revoked
//!   tokens and subjects every workload follows.
//!
//! How it fits together: [`App::start`] binds and loads everything
//! (`config` and `credentials` into a `directory`, the `store`,
//! the `keys`), every request works on the shared `authority` state,
//! `grants` decide what a token holds and `tokens` signs it. Errors are
//! one [`Error`] type. Time comes from a [`Clock`], so tests drive expiry,
//! backoff and rotation without sleeping.
//!
//! ```no_run
//! # async fn f() -> anyhow::Result<()> {
//! use clap::Parser;
//! let app = auth::App::start(auth::Args::parse()).await?;
//! app.serve(mesh::shutdown::signal()).await?;
//! # Ok(()) }
//! ```

mod app;
mod args;
mod authority;
mod backoff;
mod clients;
mod clock;
mod config;
mod credentials;
mod directory;
mod error;
mod files;
mod grants;
mod grpc;
mod http;
mod keys;
mod maintenance;
mod metrics;
mod password;
mod rotation;
mod scope;
mod secret;
mod store;
mod throttle;
mod tokens;
mod users;

pub use app::{App, ServeError, StartError};
pub use args::Args;
pub use clock::{Clock, ManualClock};
pub use config::{ClientEntry, ClientGrant, ConfigError, ConfigFile, UserEntry, WorkloadEntry};
pub use credentials::{CredentialError, DEMO_CREDENTIALS_FILE};
pub use error::Error;
pub use keys::{Jwks, KeyError, PublicJwk, RotationOutcome, SigningAlg};
pub use password::{HashError, HashParams, PasswordHash};
pub use scope::{Scope, ScopeError};
pub use secret::Secret;
pub use store::StoreError;
pub use tokens::{AccessClaims, Actor, MAX_TOKEN_BYTES};
