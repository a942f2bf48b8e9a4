//! Compiles `proto/` with protox (pure Rust, no system `protoc`) and
//! generates prost messages and tonic clients and servers from it.
//!
//! Two outputs: the generated code, and `mesh_descriptor.bin`, the encoded
//! `FileDescriptorSet` with every option intact. `file_descriptor_set()`
//! would drop extension options such as `google.api.http`, which the
//! gateway needs for REST transcoding, so the encoded bytes are written
//! directly.

use std::{env, fs, path::PathBuf};

const PROTOS: &[&str] = &[
    "auth/v1/auth.proto",
    "accounts/v1/accounts.proto",
    "payments/v1/payments.proto",
    "orders/v1/orders.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let mut compiler = protox::Compiler::new(["proto"])?;
    compiler.include_source_info(true).include_imports(true);
    compiler.open_files(PROTOS)?;

    let out = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(
        out.join("mesh_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;

    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(compiler.file_descriptor_set())?;
    Ok(())
}
