# The mesh binaries in one image: built with the official Rust image, run
# on a slim Debian. No protoc is needed (protox compiles the protos).
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --workspace --bins \
 && mkdir /out \
 && cp target/release/auth target/release/gateway target/release/orders \
       target/release/payments target/release/accounts target/release/meshctl /out/

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --create-home mesh \
 && mkdir -p /pki /data \
 && chown mesh:mesh /pki /data
COPY --from=build /out/ /usr/local/bin/
USER mesh
ENV RUST_LOG=info MESH_LOG_FORMAT=json MESH_CERTS_DIR=/pki
