//! Integration tests of the accounts workload: a real server on
//! 127.0.0.1:0 over mutual TLS, a key server standing in for `auth`, and
//! tokens minted per test. Each module covers cases of docs/security-cases.md.

mod access;
mod concurrency;
mod fixture;
mod internal;
mod listing;
mod load_test;
mod money;
mod upgrade;
