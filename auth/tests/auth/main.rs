//! Integration tests of the auth server: the real server, started
//! in-process on 127.0.0.1:0 with certificates made in the test, driven
//! over real HTTPS (and gRPC over mutual TLS), with a manual clock for
//! everything time-dependent.
//!
//! Run with `cargo test -p auth`. Cases 17-23 of SECURITY-CASES.md are in
//! `security.rs`, named `case_NN_...`.

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
mod security;
mod startup;
mod support;
mod throttle;
mod workload;
