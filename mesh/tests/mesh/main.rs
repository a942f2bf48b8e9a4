//! Integration tests of the mesh kit against real servers on 127.0.0.1:0,
//! with certificates and tokens generated per test.

mod fixture;
mod identity;
mod jwks;
mod limits;
mod metrics;
mod policy;
mod propagation;
mod revocation;
mod rotation;
mod tokens;
mod tokens_fixture;
