#!/usr/bin/env bash
# Prints the Markdown report of one bench/run.sh results directory: every
# run, then each target of issue #9 with its measured value, met or not.
#
# Usage: bench/report.sh bench/results/<time>

set -euo pipefail

DIR=${1:?usage: bench/report.sh RESULTS_DIR}
cat "$DIR/machine.txt"
echo

# Every run, keyed by name, plus the memory figures.
jq -n -r --slurpfile memory "$DIR/memory.json" '
  [inputs | select(.name != null) | {(.name): .}] | add as $r
  | $memory[0] as $m
  | def num(d):
      if . == null then "n/a"
      elif d == 0 then round | tostring
      else (if . < 0 then "-" else "" end) as $sign
        | (fabs * pow(10; d) | round) as $x
        | ($x % pow(10; d) | tostring) as $frac
        | "\($sign)\($x / pow(10; d) | floor).\("0" * (d - ($frac | length)) // "")\($frac)"
      end;
    def times(d): if . == null then "n/a" else "\(num(d))×" end;
    def rate(n): $r[n].rate // null;
    def ratio(a; b): if (rate(a) // 0) > 0 and (rate(b) // 0) > 0 then rate(a) / rate(b) else null end;
    def cpu(n): $r[n].server_cpu_us_per_call // null;
    # The throughput ratio a server given a whole core would reach: the
    # inverse ratio of server CPU per call, unmoved by CPU stolen by neighbours.
    def cpu_ratio(a; b): if (cpu(a) // 0) > 0 and (cpu(b) // 0) > 0 then cpu(b) / cpu(a) else null end;
    def baseline(run): if run.tool == "h2load" then "plaintext-h2load" else "plaintext" end;
    def verdict(v; goal; better):
      if v == null then "not measured"
      elif (better == "higher" and v >= goal) or (better == "lower" and v <= goal) then "met"
      else "**not met**" end;
  ([
    "| run | path | tool | calls/s (median) | rounds | × plaintext (same tool) | p50 µs | p99 µs | server CPU µs/call | × plaintext by server CPU | server CPU busy | OK at target (warm-up incl.) / measured calls |",
    "|---|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ( ["plaintext", "mtls", "mtls-jwt-uncached", "mtls-jwt", "gateway-grpc", "gateway-rest",
       "gateway-grpc-h2load", "nginx-grpc", "plaintext-h2load", "open-plaintext", "open-mtls-jwt"][]
      | . as $n | $r[$n] // empty
      | "| \($n) | \(.path) | \(.tool) | \(.rate | num(0)) | \(if $n | startswith("open") then "p50 " else "" end)\(.rounds // [] | map(num(0)) | join(", ")) | \(if $n | startswith("open") then "—" else ratio($n; baseline(.)) | num(2) end) | \(.p50_us | num(0)) | \(.p99_us | num(0)) | \(.server_cpu_us_per_call | num(1)) | \(if $n | startswith("open") then "—" else cpu_ratio($n; baseline(.)) | num(2) end) | \(if .server_busy == null then "n/a" else "\(.server_busy * 100 | num(0)) %" end) | \(if .name | test("plaintext") then "—" else "\(.server_ok)" end) / \(.calls) |" )
  ] | join("\n")),
  "",
  ( (ratio("mtls-jwt"; "plaintext")) as $hop
  | (ratio("gateway-grpc"; "mtls-jwt")) as $gw
  | (ratio("gateway-rest"; "mtls-jwt")) as $rest
  | (ratio("gateway-grpc-h2load"; "nginx-grpc")) as $nginx
  | def client_per_call(n): if ($r[n].client_calls // 0) > 0 then $r[n].client_cpu_us / $r[n].client_calls else null end;
    (if (client_per_call("plaintext") // 0) > 0 and (client_per_call("plaintext-h2load") // 0) > 0
     then client_per_call("plaintext-h2load") / client_per_call("plaintext") else null end) as $tool
  | (if $r["open-mtls-jwt"].p50_us != null and $r["open-plaintext"].p50_us != null
     then $r["open-mtls-jwt"].p50_us - $r["open-plaintext"].p50_us else null end) as $added
  | ($m.gateway_hwm_kib / 1024) as $rss
  | [
    "| target | measured (calls/s) | by server CPU per call | goal | |",
    "|---|---:|---:|---:|---|",
    "| one secure hop (mTLS + cached JWT + policy) vs plaintext | \($hop | times(2)) | \(cpu_ratio("mtls-jwt"; "plaintext") | times(2)) | ≥ 0.75× | \(verdict($hop; 0.75; "higher")) |",
    "| gRPC through the gateway vs gRPC direct (meshctl load) | \($gw | times(2)) | \(cpu_ratio("gateway-grpc"; "mtls-jwt") | times(2)) | ≥ 0.6× | \(verdict($gw; 0.6; "higher")) |",
    "| REST through the gateway (h2load) vs gRPC direct (meshctl load) | \($rest | times(2)) | \(cpu_ratio("gateway-rest"; "mtls-jwt") | times(2)) | ≥ 0.4× | \(verdict($rest; 0.4; "higher")) |",
    "| our gateway vs nginx gRPC proxy, both gRPC by h2load | \($nginx | times(2)) | \(cpu_ratio("gateway-grpc-h2load"; "nginx-grpc") | times(2)) | ≥ 1.0× | \(verdict($nginx; 1.0; "higher")) |",
    "| our load tool vs h2load, same endpoint and core (first: calls/s; second: calls per client CPU second, the one checked) | \(ratio("plaintext"; "plaintext-h2load") | times(2)) | \($tool | times(2)) | ≥ 1.0× | \(verdict($tool; 1.0; "higher")) |",
    "| p50 added by one secure hop at half of peak | \($added | num(0)) µs | | ≤ 200 µs | \(verdict($added; 200; "lower")) |",
    "| gateway peak RSS (VmHWM) over its runs | \($rss | num(1)) MiB | | ≤ 30 MiB | \(verdict($rss; 30; "lower")) |",
    "",
    "Gateway VmRSS after its runs: \($m.gateway_rss_kib / 1024 | num(1)) MiB; nginx (master + worker) VmRSS: \($m.nginx_rss_kib / 1024 | num(1)) MiB.",
    "Client CPU per call on the plaintext endpoint (all calls, warm-up included, and all CPU of the tool): meshctl load \(client_per_call("plaintext") | num(1)) µs, h2load \(client_per_call("plaintext-h2load") | num(1)) µs."
  ] | join("\n"))
' "$DIR"/*.json
