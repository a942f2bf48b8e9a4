//! Tests of the `meshctl` binary.

mod certs;
mod load;
mod shell;
