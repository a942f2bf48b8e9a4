//! Integration tests of the auth server: the real server, started
//! in-process on 127.0.0.1:0 with certificates made in the test, driven
//! over real HTTPS (and gRPC over mutual TLS), with a manual clock for
//! everything time-dependent.
//!
//! Run with `cargo test -p auth`. Tests of docs/security-cases.md are named
//! `case_NN_...`: cases 17-23 and 44 in `security.rs`, 45 and 46 in
//! `throttle.rs`, 48 in `exchange.rs`, 49 in `revocation.rs`, 51 in
//! `startup.rs` and `keys.rs`.

mod client_credentials;
mod demo;
mod discovery;
mod exchange;
mod https;
mod introspection;
mod keys;
mod password;
mod refresh;
mod revocation;
mod rotation;
mod security;
mod startup;
mod support;
mod throttle;
mod workload;
