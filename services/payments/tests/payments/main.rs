//! Integration tests of the payments workload: real accounts and payments
//! servers on 127.0.0.1:0 over mutual TLS, a key server standing in for
//! `auth`, and tokens minted per test. Each module covers cases of
//! docs/security-cases.md.

mod charges;
mod fixture;
mod reads;
mod refunds;
mod upgrade;
