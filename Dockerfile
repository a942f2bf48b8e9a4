# The mesh binaries in one image: built with the official Rust image, run
# on a slim Debian. No protoc is needed (protox compiles the protos).
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --workspace --bins \
 && mkdir /out \
 && cp target/release/auth target/release/gateway target/release/orders \
       target/release/payments target/release/accounts target/release/meshctl /out/

# The mount points belong to `mesh`: a named volume mounted on an existing
# directory takes its owner, so the workloads can write /data and the pki
# job /pki and /export/<workload> (docker-compose.yml). Without a registry,
# deploy/offline-images.sh makes the same image from host-built binaries.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 mesh \
 && useradd --uid 10001 --gid mesh --create-home mesh \
 && mkdir -p /pki /data /export/auth /export/gateway /export/orders /export/payments /export/accounts \
 && chown -R mesh:mesh /pki /data /export
COPY --from=build /out/ /usr/local/bin/
USER mesh
ENV RUST_LOG=info MESH_LOG_FORMAT=json MESH_CERTS_DIR=/pki
