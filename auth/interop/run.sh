#!/usr/bin/env bash
# Interop check: a standard OAuth 2.0 client (Authlib) gets a token from the
# real auth binary, and a standard JWT library (PyJWT) verifies it using only
# the discovery document and the CA bundle. See check.py.
#
# Then the same check against whole stacks run by `meshctl up`, on the
# default ports and with --ephemeral-ports, told nothing but the gateway's
# URL: discovery fetched from the gateway must name the gateway as issuer
# (strictly equal, RFC 8414 §3.3) and every endpoint under it, so a client
# following it never leaves the public door.
#
# Usage (from anywhere, after building the binaries):
#   cargo build --workspace --bins && auth/interop/run.sh
# Environment: BIN_DIR (default target/debug), PYTHON (default python3).
# Needs network access to PyPI for the pinned packages (requirements.txt).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${BIN_DIR:-$root/target/debug}"
python="${PYTHON:-python3}"
for name in auth meshctl accounts payments orders gateway; do
    if [[ ! -x "$bin/$name" ]]; then
        echo "interop: $bin/$name is missing; run: cargo build --workspace --bins" >&2
        exit 2
    fi
done

tmp="$(mktemp -d)"
pid=""
cleanup() {
    if [[ -n "$pid" ]]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

"$bin/meshctl" certs --out "$tmp/certs" >/dev/null

echo "interop: installing pinned packages into a virtualenv"
"$python" -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"

# Starts auth on three free loopback ports (HTTPS, gRPC, admin) and waits
# for /readyz: at most 100 polls, 0.1 s apart. A port taken between picking
# and binding (other processes use ephemeral ports too) means a new try.
start_auth() {
    local http grpc admin
    read -r http grpc admin < <("$python" -c '
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
')
    issuer="https://127.0.0.1:$http"
    "$bin/auth" \
        --certs-dir "$tmp/certs" \
        --data-dir "$tmp/data" \
        --listen "127.0.0.1:$grpc" \
        --admin-listen "127.0.0.1:$admin" \
        --http-listen "127.0.0.1:$http" \
        --issuer "$issuer" \
        >"$tmp/auth.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 100); do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid" 2>/dev/null || true
            pid=""
            grep -q "cannot listen" "$tmp/auth.log" && return 1
            echo "interop: auth exited during start-up:" >&2
            cat "$tmp/auth.log" >&2
            exit 1
        fi
        if "$python" -c "import sys, urllib.request
sys.exit(urllib.request.urlopen('http://127.0.0.1:$admin/readyz', timeout=1).status != 200)" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "interop: auth did not become ready; its log:" >&2
    cat "$tmp/auth.log" >&2
    exit 1
}

started=""
for _ in 1 2 3; do
    if start_auth; then
        started=1
        break
    fi
    echo "interop: a port was taken; retrying with new ones" >&2
done
if [[ -z "$started" ]]; then
    cat "$tmp/auth.log" >&2
    exit 1
fi

if ! "$tmp/venv/bin/python" "$here/check.py" \
    --issuer "$issuer" \
    --ca "$tmp/certs/ca.pem" \
    --credentials "$tmp/data/demo-credentials.json" \
    --client-id loadgen; then
    echo "interop: the auth log:" >&2
    cat "$tmp/auth.log" >&2
    exit 1
fi

# A stack as users run it, then Ctrl-C. $1: extra flags of `meshctl up`.
check_stack() {
    local data="$tmp/stack$1" gateway=""
    "$bin/meshctl" up --data-dir "$data" --bin-dir "$bin" $1 >"$tmp/up.log" 2>&1 &
    pid=$!
    # At most 600 polls, 0.1 s apart, for the stack record `up` writes
    # once every workload is ready.
    for _ in $(seq 1 600); do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "interop: meshctl up $1 exited during start-up:" >&2
            cat "$tmp/up.log" >&2
            exit 1
        fi
        if [[ -s "$data/stack.json" ]]; then
            gateway="$("$python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["gateway"])' "$data/stack.json")"
            break
        fi
        sleep 0.1
    done
    if [[ -z "$gateway" ]]; then
        echo "interop: meshctl up $1 did not become ready:" >&2
        cat "$tmp/up.log" >&2
        exit 1
    fi
    echo "interop: discovery through the gateway of meshctl up $1 ($gateway)"
    if ! "$tmp/venv/bin/python" "$here/check.py" \
        --issuer "$gateway" \
        --ca "$data/certs/ca.pem" \
        --credentials "$data/auth/demo-credentials.json" \
        --client-id loadgen; then
        cat "$tmp/up.log" >&2
        exit 1
    fi
    kill -INT "$pid"
    wait "$pid"
    pid=""
}

kill "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
pid=""
check_stack ""
check_stack "--ephemeral-ports"
echo "interop: every check passed"
