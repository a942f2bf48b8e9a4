//! End-to-end tests of the mesh binaries; see `tests/e2e/`. The library
//! holds what both the tests and the `otlp-sink` tool need.

pub mod otlp;
