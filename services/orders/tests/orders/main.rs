//! Integration tests of the orders workload: real accounts, payments and
//! orders servers on 127.0.0.1:0 over mutual TLS, a key server standing in
//! for `auth`, and tokens minted per test. Each module covers cases of
//! docs/security-cases.md; `resume` restarts servers mid-saga.

mod access;
mod concurrency;
mod fixture;
mod resume;
mod saga;
mod validation;
