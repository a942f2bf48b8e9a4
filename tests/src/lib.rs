//! End-to-end tests of the mesh binaries; see `tests/e2e/`.
