# The mesh image from binaries built on the host, for machines without an
# image registry: `deploy/offline-images.sh` makes the base (a debootstrap
# root filesystem that already has ca-certificates, curl, the `mesh` user
# and the mount points) and a build context holding only `bin/`.
# What it gives a container matches the final stage of ../Dockerfile.
ARG BASE=mesh-offline/base:bookworm
FROM ${BASE}
COPY bin/ /usr/local/bin/
USER mesh
ENV RUST_LOG=info MESH_LOG_FORMAT=json MESH_CERTS_DIR=/pki
