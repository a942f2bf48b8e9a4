#!/usr/bin/env bash
# Builds the images of docker-compose.yml on a machine with a Docker engine
# but no image registry, from what the machine can reach: the Debian mirror
# of its apt sources and the binaries cargo built on the host.
#
#   deploy/offline-images.sh [--profile debug|release]
#
# Images (used by deploy/compose.offline.yml):
#   mesh-offline/base:bookworm        debootstrap --variant=minbase, with the
#                                     runtime user, ca-certificates and curl
#                                     (the health checks); kept between runs
#   mesh-offline/prometheus:bookworm  the base plus Debian's prometheus and
#                                     deploy/prometheus.yml; kept between runs
#   secure-grpc-mesh:offline          the base plus target/<profile>/{auth,
#                                     gateway,orders,payments,accounts,
#                                     meshctl,otlp-sink}; rebuilt every run
#
# Needs root and debootstrap (for the two cached images). Nothing runs apt or
# cargo inside a container: containers here cannot reach any network.
# The two cached images are rebuilt when this script or
# deploy/prometheus.yml changed (their hash is a tag of the images), or
# with REBUILD_BASE=1.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=debug
while (($#)); do
  case "$1" in
    --profile) profile="$2"; shift 2 ;;
    *) echo "usage: $0 [--profile debug|release]" >&2; exit 2 ;;
  esac
done

BASE=mesh-offline/base:bookworm
PROMETHEUS=mesh-offline/prometheus:bookworm
MESH=secure-grpc-mesh:offline
# The user every mesh container runs as (the Dockerfile's `mesh`).
MESH_UID=10001
BINARIES=(auth gateway orders payments accounts meshctl otlp-sink)

# The Debian mirror the machine's apt uses (deb822 or one-line sources).
mirror() {
  local uri
  uri=$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources | grep -v security | awk '{print $2}' | head -n1)
  if [[ -z "$uri" ]]; then
    uri=$(grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | grep -v security | awk '{print $2}' | head -n1)
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}

# What the cached images are made from: a change rebuilds them.
RECIPE=recipe-$(cat deploy/offline-images.sh deploy/prometheus.yml | sha256sum | cut -c1-12)
# Whether image $1 exists, made by this recipe.
cached() { [[ -z "${REBUILD_BASE:-}" ]] && docker image inspect "${1%:*}:$RECIPE" >/dev/null 2>&1; }
# Tags image $1 with the recipe, dropping the tags of older recipes.
mark() {
  docker images --format '{{.Repository}}:{{.Tag}}' "${1%:*}" | { grep ':recipe-' || true; } | xargs -r docker rmi >/dev/null
  docker tag "$1" "${1%:*}:$RECIPE"
}
elapsed() { echo "$((SECONDS - $1))s"; }

work=$(mktemp -d /var/tmp/mesh-offline.XXXXXX)
# The root filesystems hold device nodes and root-owned files: remove as root.
trap 'rm -rf "$work"' EXIT

# A root filesystem made by debootstrap, in $work/$1, with the extra
# packages $2 (comma-separated).
bootstrap() {
  local dir="$work/$1" include="$2"
  debootstrap --variant=minbase --include="$include" bookworm "$dir" "$(mirror)" >"$work/$1.log" 2>&1 \
    || { tail -n 30 "$work/$1.log" >&2; exit 1; }
  # What a runtime image does not need: apt's lists and caches, docs.
  rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin "$dir"/var/cache/apt/archives/*.deb \
         "$dir"/usr/share/doc/* "$dir"/usr/share/man/* "$dir"/usr/share/locale/*
}

# The non-root user and the mount points our containers use, created on
# the host so the image needs no RUN step. A named volume mounted at an
# existing directory takes its owner, so the workloads can write /data and
# the pki job /pki and /export/<workload>.
add_mesh_user() {
  local dir="$1"
  chroot "$dir" groupadd --gid "$MESH_UID" mesh
  chroot "$dir" useradd --uid "$MESH_UID" --gid mesh --create-home mesh
  mkdir -p "$dir/pki" "$dir/data"
  for w in auth gateway orders payments accounts; do mkdir -p "$dir/export/$w"; done
  chroot "$dir" chown mesh:mesh /pki /data /export /export/auth /export/gateway \
    /export/orders /export/payments /export/accounts
}

build_base() {
  local t=$SECONDS
  bootstrap base ca-certificates,curl
  add_mesh_user "$work/base"
  tar -C "$work/base" --numeric-owner -c . | docker import - "$BASE" >/dev/null
  mark "$BASE"
  echo "   base image built in $(elapsed $t) ($(docker image inspect -f '{{.Size}}' "$BASE" | numfmt --to=iec))"
}

build_prometheus() {
  local t=$SECONDS
  bootstrap prometheus ca-certificates,curl,prometheus
  install -m 0644 deploy/prometheus.yml "$work/prometheus/etc/prometheus/prometheus.yml"
  # Its data, in the container's own layer: no anonymous volume that a
  # `docker-compose down` without -v would leave behind.
  mkdir -p "$work/prometheus/prometheus"
  chroot "$work/prometheus" chown prometheus:prometheus /prometheus
  tar -C "$work/prometheus" --numeric-owner -c . | docker import \
    --change 'USER prometheus' \
    --change 'EXPOSE 9090' \
    --change 'ENTRYPOINT ["/usr/bin/prometheus"]' \
    --change 'CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus", "--web.console.libraries=/usr/share/prometheus/console_libraries", "--web.console.templates=/usr/share/prometheus/consoles"]' \
    - "$PROMETHEUS" >/dev/null
  mark "$PROMETHEUS"
  echo "   Prometheus image built in $(elapsed $t) ($(docker image inspect -f '{{.Size}}' "$PROMETHEUS" | numfmt --to=iec))"
}

t0=$SECONDS
# The two root filesystems are independent: made side by side, the
# mirror's latency overlaps.
jobs=()
if cached "$BASE"; then
  echo "== base image $BASE: cached"
else
  echo "== base image $BASE: debootstrap bookworm from $(mirror)"
  build_base & jobs+=($!)
fi
if cached "$PROMETHEUS"; then
  echo "== Prometheus image $PROMETHEUS: cached"
else
  echo "== Prometheus image $PROMETHEUS: debootstrap bookworm with Debian's prometheus"
  build_prometheus & jobs+=($!)
fi
for job in "${jobs[@]}"; do wait "$job"; done

t=$SECONDS
echo "== mesh image $MESH from target/$profile"
mkdir -p "$work/context/bin"
for bin in "${BINARIES[@]}"; do
  src="target/$profile/$bin"
  [[ -x "$src" ]] || { echo "$src is missing: run cargo build --workspace --bins$([[ $profile == release ]] && echo ' --release')" >&2; exit 1; }
  # Debug symbols are most of a debug binary; the image does not need them.
  strip -o "$work/context/bin/$bin" "$src"
done
previous=$(docker image inspect --format '{{.Id}}' "$MESH" 2>/dev/null || true)
docker build --quiet --file deploy/offline.Dockerfile --build-arg BASE="$BASE" \
  --tag "$MESH" "$work/context" >/dev/null
# The image this one replaces, unless a container still uses it.
if [[ -n "$previous" && "$previous" != "$(docker image inspect --format '{{.Id}}' "$MESH")" ]]; then
  docker rmi "$previous" >/dev/null 2>&1 || true
fi
echo "   built in $(elapsed $t)"
echo "== images ready in $(elapsed $t0)"
