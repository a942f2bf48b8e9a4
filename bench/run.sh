#!/usr/bin/env bash
# The security-cost benchmark (issue #9), in one run on one machine.
#
# The same closed-loop workload (accounts.v1.Accounts/GetAccount, same
# concurrency, connections and duration) against:
#
#   1. bench-target --mode plaintext          h2c, no security (the baseline)
#   2. bench-target --mode mtls               mutual TLS, identity, policy
#   3. bench-target --mode mtls-jwt-uncached  + JWT verified on every call
#   4. bench-target --mode mtls-jwt           + JWT with the verified-token cache
#   5. the gateway (gRPC), upstream = target 4, driven by `meshctl load`
#   6. the gateway (REST/JSON), same upstream, driven by h2load
#   7. the gateway (gRPC), same upstream, driven by h2load
#   8. nginx as a gRPC proxy doing mTLS to the same upstream, driven by h2load
#   9. target 1 driven by h2load (our load tool vs h2load on one endpoint)
#
# then open-loop runs at half of the peaks of 1 and 4 for the added p50 of
# one secure hop. Servers run on BENCH_SERVER_CPUS, every load tool on
# BENCH_CLIENT_CPUS (taskset), so both tools get the same CPU budget.
# Prints (bench/report.sh) a Markdown table of every path with ratios to
# the baseline and server CPU per call, and each target met or not, and
# keeps every raw result in the results directory.
#
# Usage (from anywhere; about 7.5 minutes with the defaults, plus the build):
#   bench/run.sh
# Environment:
#   BENCH_DURATION=10 BENCH_WARMUP=2     seconds per run, and warm-up before it
#   BENCH_ROUNDS=3                       rounds over every path; each reports its median
#   BENCH_CONCURRENCY=64 BENCH_CONNECTIONS=4
#   BENCH_SERVER_CPUS=0 BENCH_CLIENT_CPUS=1
#   BENCH_NICE=-10                       run servers and load tools at this nice
#                                        level (negative needs root) so that other
#                                        work on a shared machine steals less
#   BENCH_RESULTS=DIR                    default bench/results/<UTC time>
#   BENCH_BUILD=0                        use the release binaries already built
#   CARGO_TARGET_DIR                     where the release binaries are
# Needs: cargo, curl, jq, python3, taskset; h2load (nghttp2-client) and nginx are
# installed with apt-get when missing. Everything listens on 127.0.0.1.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-2}
ROUNDS=${BENCH_ROUNDS:-3}
CONCURRENCY=${BENCH_CONCURRENCY:-64}
CONNECTIONS=${BENCH_CONNECTIONS:-4}
SERVER_CPUS=${BENCH_SERVER_CPUS:-0}
NICE=${BENCH_NICE:-0}
CLIENT_CPUS=${BENCH_CLIENT_CPUS:-1}
RESULTS=${BENCH_RESULTS:-$ROOT/bench/results/$(date -u +%Y%m%dT%H%M%SZ)}
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release
STREAMS=$((CONCURRENCY / CONNECTIONS))
TICK_US=$((1000000 / $(getconf CLK_TCK)))
RPC=/accounts.v1.Accounts/GetAccount

log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

# --- processes: every one we start is stopped on exit ----------------------

WORK=$(mktemp -d -t mesh-bench.XXXXXX)
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start NAME CMD...: runs CMD on the server CPUs, logging to $WORK/NAME.log.
start() {
    local name=$1
    shift
    nice -n "$NICE" taskset -c "$SERVER_CPUS" "$@" >"$WORK/$name.log" 2>&1 &
    PIDS+=("$!")
    echo "$!" >"$WORK/$name.pid"
}

pid_of() { cat "$WORK/$1.pid"; }

# serving NAME MESSAGE FIELD: waits (30 s at most) for the JSON log line
# MESSAGE of NAME and prints its FIELD (a bound address).
serving() {
    local name=$1 message=$2 field=$3 value
    for _ in $(seq 300); do
        value=$(jq -rR --arg m "$message" --arg f "$field" \
            'fromjson? | select(.message == $m) | .[$f] // empty' "$WORK/$name.log" | head -n1)
        if [[ -n $value ]]; then
            echo "$value"
            return
        fi
        kill -0 "$(pid_of "$name")" 2>/dev/null || break
        sleep 0.1
    done
    tail -n 20 "$WORK/$name.log" >&2
    die "$name did not log '$message'"
}

# ready ADMIN: waits (30 s at most) for /readyz (keys fetched) on ADMIN.
ready() {
    for _ in $(seq 300); do
        curl -sf "http://$1/readyz" >/dev/null && return
        sleep 0.1
    done
    die "http://$1/readyz never answered 200"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# --- measurements ------------------------------------------------------------

# cpu_ticks PID...: user + system clock ticks of the processes so far.
cpu_ticks() {
    local pid total=0 fields
    for pid in "$@"; do
        read -ra fields <<<"$(sed 's/^.*) //' "/proc/$pid/stat")"
        total=$((total + fields[11] + fields[12]))
    done
    echo "$total"
}

# status_kib PID FIELD: VmRSS or VmHWM of PID in KiB.
status_kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }

# ok_calls ADMIN: GetAccount calls answered OK by the target behind ADMIN.
ok_calls() {
    curl -sf "http://$1/metrics" |
        awk -v rpc="$RPC" 'index($0, "mesh_rpc_requests_total{") == 1 && index($0, rpc) && index($0, "code=\"OK\"") { n += $NF } END { printf "%d\n", n }'
}

# percentile P FILE: the P-th percentile of the numbers in FILE (one a line).
percentile() {
    sort -n "$2" | awk -v p="$1" '{ v[NR] = $1 } END { i = int(NR * p / 100 + 0.999999); if (i < 1) i = 1; print v[i] }'
}

# client_cpu_us FILE: writes the user + system time of the finished
# children of the calling (sub)shell, in µs. `times` must run in that
# shell itself, not in a pipeline; its second line is "XmY.YYYs XmY.YYYs".
client_cpu_us() {
    times >"$1.times"
    awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] } printf "%d\n", t * 1e6 }' "$1.times" >"$1"
}

# h2load_run URL KIND [TOKEN]: one h2load run ($RUN) on the client CPUs;
# KIND is grpc (POST of the framed request) or rest (GET).
h2load_run() {
    local name=$RUN url=$1 kind=$2 token=${3:-} args
    args=(-c "$CONNECTIONS" -m "$STREAMS" --log-file="$WORK/$name.h2log")
    # With no warm-up (H2LOAD_WARMUP=0: the same wall time, all of it
    # measured), every call is counted, so client CPU per call is exact.
    if [[ ${H2LOAD_WARMUP:-1} == 0 ]]; then
        args+=(-D "$((DURATION + WARMUP))")
    else
        args+=(-D "$DURATION" --warm-up-time="${WARMUP}s")
    fi
    [[ -n $token ]] && args+=(-H "authorization: Bearer $token")
    if [[ $kind == grpc ]]; then
        args+=(-H 'content-type: application/grpc' -H 'te: trailers' -d "$WORK/frame.bin")
    fi
    (
        nice -n "$NICE" taskset -c "$CLIENT_CPUS" h2load "${args[@]}" "$url" >"$RESULTS/rounds/$name.h2load.txt"
        client_cpu_us "$WORK/$name.client_us"
    )
    awk '{ print $3 }' "$WORK/$name.h2log" >"$WORK/$name.lat"
    local rate done failed
    rate=$(awk '/^finished in/ { gsub(",", "", $4); print $4 }' "$RESULTS/rounds/$name.h2load.txt")
    done=$(awk '/^requests:/ { print $8 }' "$RESULTS/rounds/$name.h2load.txt")
    failed=$(awk '/^requests:/ { print $12 + $14 + $16 }' "$RESULTS/rounds/$name.h2load.txt")
    jq -n --arg tool h2load --argjson rate "${rate:-0}" --argjson done "${done:-0}" \
        --argjson failed "${failed:-0}" \
        --argjson p50 "$(percentile 50 "$WORK/$name.lat")" \
        --argjson p99 "$(percentile 99 "$WORK/$name.lat")" \
        --argjson client_us "$(cat "$WORK/$name.client_us")" --arg warm "${H2LOAD_WARMUP:-1}" \
        '{tool: $tool, rate: $rate, calls: $done, failed: $failed, p50_us: $p50, p99_us: $p99, client_cpu_us: $client_us,
          client_calls: (if $warm == "0" then $done else null end)}' \
        >"$WORK/$name.client.json"
}

# meshctl_run ARGS...: one `meshctl load` run ($RUN) on the client CPUs.
meshctl_run() {
    local name=$RUN
    if ((MESHCTL_LOAD == 0)); then
        echo '{"tool": "meshctl load", "skipped": true, "rate": null, "calls": 0}' >"$WORK/$name.client.json"
        return
    fi
    (
        nice -n "$NICE" taskset -c "$CLIENT_CPUS" "$BIN/meshctl" load --data-dir "$WORK/data" --gateway "$GATEWAY_URL" \
            --connections "$CONNECTIONS" --duration "${DURATION}s" --warmup "${WARMUP}s" \
            --json "$@" >"$RESULTS/rounds/$name.meshctl.json"
        client_cpu_us "$WORK/$name.client_us"
    )
    jq --argjson client_us "$(cat "$WORK/$name.client_us")" -f "$ROOT/bench/meshctl-load.jq" \
        "$RESULTS/rounds/$name.meshctl.json" >"$WORK/$name.client.json"
}

# measure NAME LABEL ADMIN PIDS -- LOADER ARGS...: runs the loader (as
# $RUN = NAME.rROUND) and records its figures with the CPU the server
# processes PIDS (space separated) used and the calls the target behind
# ADMIN answered OK (warm-up included, like the CPU).
measure() {
    local name=$1 label=$2 admin=$3 pids=$4 before_cpu before_ok after_cpu ok start wall_us
    shift 5
    RUN=$name.r$ROUND
    log "run $RUN: $label"
    # shellcheck disable=SC2086
    before_cpu=$(cpu_ticks $pids)
    before_ok=$([[ -n $admin ]] && ok_calls "$admin" || echo 0)
    start=$(date +%s%N)
    "$@"
    wall_us=$((($(date +%s%N) - start) / 1000))
    # shellcheck disable=SC2086
    after_cpu=$(cpu_ticks $pids)
    ok=$(($([[ -n $admin ]] && ok_calls "$admin" || echo 0) - before_ok))
    # Server CPU per call: over every call the CPU was spent on, warm-up
    # included (the target's own count if it has one, else the client's).
    jq --arg name "$name" --arg path "$label" --argjson round "$ROUND" --argjson wall_us "$wall_us" \
        --argjson server_us "$(((after_cpu - before_cpu) * TICK_US))" --argjson ok "$ok" \
        '. + {name: $name, path: $path, round: $round, server_cpu_us: $server_us, server_ok: $ok,
              server_busy: ($server_us / $wall_us), client_busy: ((.client_cpu_us // 0) / $wall_us)}
         | (if $ok > 0 then $ok else .client_calls // .calls end) as $n
         | .server_cpu_us_per_call = (if $n > 0 then $server_us / $n else null end)' \
        "$WORK/$RUN.client.json" >"$RESULTS/rounds/$RUN.json"
    jq -c '{name, round, rate, calls, failed, p50_us, p99_us, server_ok, server_cpu_us_per_call, server_busy, client_busy}' \
        "$RESULTS/rounds/$RUN.json" >&2
}

# pick NAME KEY: the round of NAME with the median KEY becomes NAME's
# result, with every round's KEY beside it.
pick() {
    jq -s --arg key "$2" '(map(select(.[$key] != null)) | sort_by(.[$key])) as $runs
        | if ($runs | length) == 0 then .[0]
          else $runs[(($runs | length) - 1) / 2 | floor] + {rounds: ($runs | map(.[$key]))} end' \
        "$RESULTS"/rounds/"$1".r*.json >"$RESULTS/$1.json"
}

# --- set-up ------------------------------------------------------------------

install_missing() {
    local missing=()
    command -v h2load >/dev/null || missing+=(nghttp2-client)
    command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
    ((${#missing[@]} == 0)) && return
    log "installing ${missing[*]}"
    local sudo=()
    ((EUID == 0)) || sudo=(sudo)
    "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null ||
        { "${sudo[@]}" apt-get update >/dev/null && "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; }
}

for tool in cargo curl jq taskset python3; do
    command -v "$tool" >/dev/null || die "$tool is required"
done
install_missing
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
mkdir -p "$RESULTS/rounds"
((CONCURRENCY % CONNECTIONS == 0)) || die "BENCH_CONCURRENCY must be a multiple of BENCH_CONNECTIONS"

if [[ ${BENCH_BUILD:-1} != 0 ]]; then
    log "building release binaries"
    (cd "$ROOT" && cargo build --release -p auth -p gateway -p meshctl -p mesh-bench)
fi
# Until `meshctl load` exists, the runs that need it are skipped (and
# reported as not measured); every h2load run works without it.
MESHCTL_LOAD=1
"$BIN/meshctl" load --help >/dev/null 2>&1 || {
    MESHCTL_LOAD=0
    log "warning: $BIN/meshctl has no 'load' command; its runs are skipped"
}

log "PKI and auth in $WORK"
"$BIN/meshctl" certs --out "$WORK/data/certs" >/dev/null
CERTS=$WORK/data/certs
# Every process: loopback ports chosen by the kernel, JSON logs, this PKI.
export MESH_CERTS_DIR=$CERTS MESH_LOG_FORMAT=json RUST_LOG=info \
    MESH_LISTEN=127.0.0.1:0 MESH_ADMIN_LISTEN=127.0.0.1:0

# Tokens live an hour so that one fetched before the run outlives it.
AUTH_DATA_DIR=$WORK/data/auth AUTH_HTTP_LISTEN=127.0.0.1:0 AUTH_ENABLE_PASSWORD_GRANT=true \
    AUTH_ACCESS_TOKEN_TTL=1h start auth "$BIN/auth"
AUTH_GRPC=$(serving auth serving grpc)
AUTH_HTTPS=$(serving auth "serving HTTPS" https)
export MESH_AUTH_ADDR=$AUTH_GRPC

declare -A TARGET ADMIN
for mode in plaintext mtls mtls-jwt-uncached mtls-jwt; do
    start "target-$mode" "$BIN/bench-target" serve --mode "$mode"
    TARGET[$mode]=$(serving "target-$mode" serving grpc)
done
for mode in mtls mtls-jwt-uncached mtls-jwt; do
    ADMIN[$mode]=$(serving "target-$mode" serving admin)
    ready "${ADMIN[$mode]}"
done
ACCOUNT=$(serving target-mtls-jwt "bench target" account_id)
"$BIN/bench-target" frame "$ACCOUNT" >"$WORK/frame.bin"

# The gateway, with the mtls-jwt target as its accounts upstream and rate
# limits far above anything this machine can send.
GATEWAY_LISTEN=127.0.0.1:0 ACCOUNTS_ADDR=${TARGET[mtls-jwt]} AUTH_HTTP_ADDR=$AUTH_HTTPS \
    GATEWAY_RATE_SUBJECT=10000000 GATEWAY_RATE_CLIENT=10000000 GATEWAY_RATE_IP=10000000 \
    start gateway "$BIN/gateway"
GATEWAY=$(serving gateway "serving HTTPS" https)
GATEWAY_ADMIN=$(serving gateway serving admin)
GATEWAY_URL=https://localhost:${GATEWAY##*:}
ready "$GATEWAY_ADMIN"

# nginx: TLS + HTTP/2 in front, grpcs to the same upstream with the
# gateway's certificate (so the upstream's policy sees `gateway`), the
# upstream verified as `accounts` against the mesh CA, kept-alive connections.
NGINX_PORT=$(free_port)
mkdir -p "$WORK/nginx"
cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    upstream accounts {
        server ${TARGET[mtls-jwt]};
        keepalive 128;
        keepalive_requests 100000000;
    }
    server {
        listen 127.0.0.1:$NGINX_PORT ssl http2;
        ssl_certificate $CERTS/gateway.pem;
        ssl_certificate_key $CERTS/gateway-key.pem;
        ssl_protocols TLSv1.3;
        keepalive_requests 100000000;
        location / {
            grpc_pass grpcs://accounts;
            grpc_ssl_certificate $CERTS/gateway.pem;
            grpc_ssl_certificate_key $CERTS/gateway-key.pem;
            grpc_ssl_trusted_certificate $CERTS/ca.pem;
            grpc_ssl_verify on;
            grpc_ssl_name accounts;
            grpc_ssl_protocols TLSv1.3;
            grpc_ssl_session_reuse on;
        }
    }
}
EOF
start nginx "$NGINX" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log"
for _ in $(seq 100); do
    curl -s -o /dev/null --cacert "$CERTS/ca.pem" "https://localhost:$NGINX_PORT/" && break
    sleep 0.1
done
NGINX_PIDS="$(pid_of nginx) $(pgrep -P "$(pid_of nginx)" | tr '\n' ' ')"

# Tokens of the `loadgen` client: for the gateway (the edge exchanges it
# for one addressed to accounts) and for accounts itself (what nginx passes on).
SECRET=$(jq -r .clients.loadgen "$WORK/data/auth/demo-credentials.json")
token() {
    curl -sf --cacert "$CERTS/ca.pem" -u "loadgen:$SECRET" -d grant_type=client_credentials \
        -d scope=accounts:read "$@" "$GATEWAY_URL/oauth2/token" | jq -r .access_token
}
TOKEN_GATEWAY=$(token)
TOKEN_ACCOUNTS=$(token -d audience=accounts)

# One checked call on every path before measuring: h2load counts any HTTP
# 200 as a success, and a gRPC error is an HTTP 200 with grpc-status.
grpc_check() {
    local url=$1
    shift
    local headers
    headers=$(curl -sS --http2-prior-knowledge --cacert "$CERTS/ca.pem" -D - -o /dev/null \
        -H 'content-type: application/grpc' -H 'te: trailers' --data-binary "@$WORK/frame.bin" "$@" "$url" 2>&1 |
        tr -d '\r')
    grep -q '^grpc-status: 0$' <<<"$headers" || die "gRPC check of $url failed: $headers"
}
grpc_check "http://${TARGET[plaintext]}$RPC"
grpc_check "$GATEWAY_URL$RPC" -H "authorization: Bearer $TOKEN_GATEWAY"
grpc_check "https://localhost:$NGINX_PORT$RPC" -H "authorization: Bearer $TOKEN_ACCOUNTS"
curl -sf --cacert "$CERTS/ca.pem" -H "authorization: Bearer $TOKEN_GATEWAY" \
    "$GATEWAY_URL/v1/accounts/$ACCOUNT" >/dev/null || die "REST check failed"

# --- the runs ----------------------------------------------------------------

# Rounds alternate over every path, so a noisy neighbour hurts all alike;
# each path's result is its median round.
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
closed=(--closed --concurrency "$CONCURRENCY")
T=$(pid_of target-plaintext)
J=$(pid_of target-mtls-jwt)
G="$(pid_of gateway) $J $(pid_of auth)"
for ROUND in $(seq "$ROUNDS"); do
    measure plaintext "plaintext h2c, no security (baseline)" "" "$T" -- \
        meshctl_run --scenario direct --target "${TARGET[plaintext]}" --plaintext --no-token --account "$ACCOUNT" "${closed[@]}"
    measure mtls "mTLS + identity + policy" "${ADMIN[mtls]}" "$(pid_of target-mtls)" -- \
        meshctl_run --scenario direct --target "${TARGET[mtls]}" --no-token --account "$ACCOUNT" "${closed[@]}"
    measure mtls-jwt-uncached "mTLS + JWT uncached + policy" "${ADMIN[mtls-jwt-uncached]}" "$(pid_of target-mtls-jwt-uncached)" -- \
        meshctl_run --scenario direct --target "${TARGET[mtls-jwt-uncached]}" --account "$ACCOUNT" "${closed[@]}"
    measure mtls-jwt "mTLS + JWT cached + policy (one secure hop)" "${ADMIN[mtls-jwt]}" "$J" -- \
        meshctl_run --scenario direct --target "${TARGET[mtls-jwt]}" --account "$ACCOUNT" "${closed[@]}"
    measure gateway-grpc "gateway, gRPC (meshctl load)" "${ADMIN[mtls-jwt]}" "$G" -- \
        meshctl_run --scenario read --account "$ACCOUNT" "${closed[@]}"
    measure gateway-rest "gateway, REST/JSON (h2load)" "${ADMIN[mtls-jwt]}" "$G" -- \
        h2load_run "$GATEWAY_URL/v1/accounts/$ACCOUNT" rest "$TOKEN_GATEWAY"
    measure gateway-grpc-h2load "gateway, gRPC (h2load)" "${ADMIN[mtls-jwt]}" "$G" -- \
        h2load_run "$GATEWAY_URL$RPC" grpc "$TOKEN_GATEWAY"
    measure nginx-grpc "nginx gRPC proxy, mTLS upstream (h2load)" "${ADMIN[mtls-jwt]}" "$NGINX_PIDS $J" -- \
        h2load_run "https://localhost:$NGINX_PORT$RPC" grpc "$TOKEN_ACCOUNTS"
    H2LOAD_WARMUP=0 measure plaintext-h2load "plaintext h2c, no security (h2load, no warm-up)" "" "$T" -- \
        h2load_run "http://${TARGET[plaintext]}$RPC" grpc
done
GATEWAY_RSS=$(status_kib "$(pid_of gateway)" VmRSS)
GATEWAY_HWM=$(status_kib "$(pid_of gateway)" VmHWM)
NGINX_RSS=0
for pid in $NGINX_PIDS; do NGINX_RSS=$((NGINX_RSS + $(status_kib "$pid" VmRSS))); done
for name in plaintext mtls mtls-jwt-uncached mtls-jwt gateway-grpc gateway-rest gateway-grpc-h2load nginx-grpc plaintext-h2load; do
    pick "$name" rate
done

# Open loop at half of each (median) peak: the p50 one secure hop adds.
half_rate() { jq -r '(.rate // 0) / 2 | floor' "$RESULTS/$1.json"; }
HALF_PLAIN=$(half_rate plaintext)
HALF_SECURE=$(half_rate mtls-jwt)
for ROUND in $(seq "$ROUNDS"); do
    measure open-plaintext "plaintext, open loop at half its peak ($HALF_PLAIN/s)" "" "$T" -- \
        meshctl_run --scenario direct --target "${TARGET[plaintext]}" --plaintext --no-token --account "$ACCOUNT" --rate "$HALF_PLAIN"
    measure open-mtls-jwt "mTLS + JWT cached, open loop at half its peak ($HALF_SECURE/s)" "${ADMIN[mtls-jwt]}" "$J" -- \
        meshctl_run --scenario direct --target "${TARGET[mtls-jwt]}" --account "$ACCOUNT" --rate "$HALF_SECURE"
done
pick open-plaintext p50_us
pick open-mtls-jwt p50_us

jq -n --arg rss "$GATEWAY_RSS" --arg hwm "$GATEWAY_HWM" --arg nginx "$NGINX_RSS" \
    '{gateway_rss_kib: ($rss | tonumber), gateway_hwm_kib: ($hwm | tonumber), nginx_rss_kib: ($nginx | tonumber)}' \
    >"$RESULTS/memory.json"
{
    echo "machine: $(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(uname -sr)"
    echo "date: $(date -u +%FT%TZ)"
    echo "load: median of $ROUNDS rounds, $DURATION s per run after $WARMUP s warm-up, $CONCURRENCY in flight over $CONNECTIONS connections; servers on CPU $SERVER_CPUS, load tools on CPU $CLIENT_CPUS, nice $NICE"
    echo "load average before the runs: $LOAD_BEFORE; after: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$RESULTS/machine.txt"

"$ROOT/bench/report.sh" "$RESULTS" | tee "$RESULTS/report.md"
log "raw results in $RESULTS"
